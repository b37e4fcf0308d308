//! Where a live webhook endpoint may point: `https`, and a host that is not loopback, private
//! (10/8, 172.16/12, 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), unspecified
//! (0.0.0.0, ::), shared (CGNAT 100.64/10), multicast or reserved, nor a name like `localhost`.
//!
//! Checked twice: when the endpoint is registered (the URL as written: [`check_url`]) and before
//! each pass delivers to it (the addresses its name resolves to: [`resolve_checked`]). The
//! delivery then connects to exactly the addresses that were checked (the client is pinned to
//! them), so a name that resolves elsewhere between the check and the connection (DNS
//! rebinding) changes nothing. The operator setting `Policy::allow_private_webhook_addresses`
//! lifts the rule (and the `https` requirement) for tests and private deployments. Test-mode
//! endpoints are not held to it: they may be `http` and local, as a developer's receiver is.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use holdback_domain::ErrorCode;
use url::Url;

/// The name of the refusal, at registration (the API's code) and as a delivery's `last_error`.
pub const NOT_ALLOWED: &str = ErrorCode::EndpointAddressNotAllowed.as_str();

/// What a resolution answers: the host's addresses.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves a host name to addresses. The worker's hook ([`crate::webhooks::Settings`]): the
/// system resolver in production, a fixed table in tests.
pub trait Resolve: Send + Sync {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a>;
}

/// The operating system's resolver.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// A fixed table of names and their addresses; any other name does not resolve.
#[derive(Debug, Clone, Default)]
pub struct FixedResolver(pub Vec<(String, IpAddr)>);

impl Resolve for FixedResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> Resolving<'a> {
        Box::pin(async move {
            let found: Vec<IpAddr> = self
                .0
                .iter()
                .filter(|(name, _)| name.eq_ignore_ascii_case(host))
                .map(|(_, ip)| *ip)
                .collect();
            if found.is_empty() {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such host",
                ))
            } else {
                Ok(found)
            }
        })
    }
}

/// Whether a live endpoint may send to `ip`.
pub fn ip_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4),
        IpAddr::V6(v6) => v6_allowed(v6),
    }
}

fn v4_allowed(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    let refused = a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn v6_allowed(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_allowed(v4);
    }
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the IPv4 address it stands for
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return v4_allowed(Ipv4Addr::new(a, b, c, d));
    }
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || s[..6] == [0; 6] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00; // multicast
    !refused
}

/// Whether `host` (a name) is one that means this machine.
fn local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost") || host.is_empty()
}

/// Checks a live endpoint's URL as written: `https`, and a host that is not a refused address or
/// a local name. The message says what is wrong.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    let parsed = Url::parse(url).map_err(|_| "not a valid URL")?;
    if parsed.scheme() != "https" {
        return Err("a live endpoint must use https");
    }
    match parsed.host() {
        None => Err("the URL has no host"),
        Some(url::Host::Domain(name)) if local_name(name) => {
            Err("a live endpoint may not point at a local name")
        }
        Some(url::Host::Domain(_)) => Ok(()),
        Some(url::Host::Ipv4(ip)) if !v4_allowed(ip) => {
            Err("a live endpoint may not point at a private, loopback or reserved address")
        }
        Some(url::Host::Ipv6(ip)) if !v6_allowed(ip) => {
            Err("a live endpoint may not point at a private, loopback or reserved address")
        }
        Some(_) => Ok(()),
    }
}

/// Where a live delivery may go: the URL's host and the checked addresses to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub addrs: Vec<SocketAddr>,
}

/// Resolves the endpoint's host through `resolver` (within `timeout`) and checks every address
/// it gives: one refused address refuses them all. `allow_private` skips the check, not the
/// resolution. The error is the delivery's `last_error`: [`NOT_ALLOWED`] or `dns_failed`.
pub async fn resolve_checked(
    url: &str,
    resolver: &Arc<dyn Resolve>,
    allow_private: bool,
    timeout: Duration,
) -> Result<Target, &'static str> {
    let parsed = Url::parse(url).map_err(|_| NOT_ALLOWED)?;
    if !allow_private && check_url(url).is_err() {
        return Err(NOT_ALLOWED);
    }
    let ips = match parsed.host() {
        None => return Err(NOT_ALLOWED),
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) => {
            match tokio::time::timeout(timeout, resolver.resolve(name)).await {
                Ok(Ok(ips)) if !ips.is_empty() => ips,
                _ => return Err("dns_failed"),
            }
        }
    };
    if !allow_private && !ips.iter().all(|ip| ip_allowed(*ip)) {
        return Err(NOT_ALLOWED);
    }
    Ok(Target {
        host: parsed.host_str().unwrap_or_default().to_string(),
        // the port is the URL's: a pinned address's own port is not used
        addrs: ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect(),
    })
}

/// A client that connects to `target`'s checked addresses only: no other resolution, no
/// proxy, no redirects (a redirect could lead anywhere).
pub fn pinned_client(target: &Target) -> reqwest::Client {
    crate::webhooks::http_client_builder()
        .resolve_to_addrs(&target.host, &target.addrs)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_and_allowed_addresses() {
        for refused in [
            "127.0.0.1",
            "127.9.9.9",
            "10.0.0.5",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.2",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a00:1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(!ip_allowed(ip), "{refused} is refused");
        }
        for allowed in [
            "93.184.215.14",
            "172.15.0.1",
            "172.32.0.1",
            "100.63.0.1",
            "100.128.0.1",
            "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
            "::ffff:93.184.215.14",
        ] {
            let ip: IpAddr = allowed.parse().unwrap();
            assert!(ip_allowed(ip), "{allowed} is allowed");
        }
    }

    #[test]
    fn urls_of_live_endpoints() {
        for refused in [
            "http://10.0.0.5/x",
            "http://example.com/x",
            "https://127.0.0.1/x",
            "https://[::1]/",
            "https://192.168.1.2/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://[fe80::1]/",
            "https://0.0.0.0/",
            "https://2130706433/", // 127.0.0.1 written as one number
            "https://0x7f.1/",
        ] {
            assert!(check_url(refused).is_err(), "{refused} is refused");
        }
        for allowed in ["https://example.com/hooks", "https://93.184.215.14:8443/x"] {
            assert_eq!(check_url(allowed), Ok(()), "{allowed}");
        }
    }

    #[tokio::test]
    async fn a_name_is_refused_when_any_of_its_addresses_is() {
        let resolver: Arc<dyn Resolve> = Arc::new(FixedResolver(vec![
            ("hooks.example".into(), "93.184.215.14".parse().unwrap()),
            ("hooks.example".into(), IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ("public.example".into(), "93.184.215.14".parse().unwrap()),
        ]));
        let t = Duration::from_secs(5);
        let url = "https://hooks.example/x";
        assert_eq!(
            resolve_checked(url, &resolver, false, t).await,
            Err(NOT_ALLOWED)
        );
        let allowed = resolve_checked(url, &resolver, true, t).await;
        assert_eq!(allowed.map(|t| t.addrs.len()), Ok(2));
        let public = resolve_checked("https://public.example:8443/x", &resolver, false, t).await;
        assert_eq!(
            public,
            Ok(Target {
                host: "public.example".into(),
                addrs: vec!["93.184.215.14:0".parse().unwrap()],
            })
        );
        assert_eq!(
            resolve_checked("https://nowhere.example/", &resolver, false, t).await,
            Err("dns_failed")
        );
    }
}

// The sandbox wallets' pages in a real browser: for each wallet, a checkout through the API,
// then Debian's chromium (driven by playwright-core) opens the wallet's page, clicks Approve,
// and must land on the marketplace's return URL with the payment succeeded and its order paid.
//
// Usage: node wallets.mjs http://127.0.0.1:PORT   (against `holdback serve --demo`)
import { chromium } from "playwright-core";

const base = process.argv[2];
const platform = "sk_test_de00000000000001_platform";
const wallets = [
  ["alipay", "cny"],
  ["paypal", "usd"],
  ["wechat_pay", "cny"],
  ["webmoney", "eur"],
];

async function api(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${platform}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return [res.status, await res.json()];
}

function check(ok, what) {
  if (!ok) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless=new"],
});
try {
  for (const [wallet, currency] of wallets) {
    const returnUrl = `${base}/healthz?shop=1`;
    const [status, payment] = await api("POST", "/v1/checkouts", {
      buyer: "buy_alice",
      currency,
      items: [{ seller: "sel_bob", description: "teapot", unit_amount: 4200, quantity: 1 }],
      wallet: { type: wallet, return_url: returnUrl },
    });
    check(status === 201, `${wallet}: checkout answered ${status} ${JSON.stringify(payment)}`);
    check(payment.next_action?.type === "redirect_to_url", `${wallet}: no redirect`);
    const page = await browser.newPage();
    await page.goto(payment.next_action.redirect_url);
    check((await page.textContent("#status")) === "requires_action", `${wallet}: page status`);
    await Promise.all([page.waitForURL(/\/healthz\?/), page.click("#approve")]);
    const landed = new URL(page.url());
    check(landed.searchParams.get("shop") === "1", `${wallet}: the return URL's own query kept`);
    check(landed.searchParams.get("payment") === payment.id, `${wallet}: payment on return`);
    check(landed.searchParams.get("status") === "succeeded", `${wallet}: status on return`);
    const [, after] = await api("GET", `/v1/payments/${payment.id}`);
    check(after.status === "succeeded", `${wallet}: payment ${after.status}`);
    check(after.orders[0].status === "paid", `${wallet}: order ${after.orders[0].status}`);
    console.log(`${wallet}: approved in the browser, landed on ${landed.pathname}, order paid`);
    await page.close();
  }
} finally {
  await browser.close();
}
console.log("browser: every wallet approved in chromium");

#!/usr/bin/env python3
"""Writes the binary test fixtures of holdback-remit (run once; the outputs are committed).

    pip install openpyxl && python3 make_fixtures.py

Every carrier, parcel, name and reference here is invented. Amounts follow the rate cards in
../../profiles/*.toml, computed with integer arithmetic (minor units) and half-up rounding.
"""
import csv
import datetime
import io
import json
import os

import openpyxl

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(amount, num, den, rule="half_up"):
    """amount * num / den rounded to an integer (num/den is the percentage as a fraction of 100)."""
    n, d = amount * num, den * 100
    q, r = divmod(n, d)
    if 2 * r > d or (2 * r == d and (rule == "half_up" or q % 2 == 1)):
        q += 1
    return q


def money(minor):
    sign = "-" if minor < 0 else ""
    m = abs(minor)
    return f"{sign}{m // 100}.{m % 100:02d}"


def grouped(minor):
    """1250.00 as 1,250.00 (Gulf Express groups thousands with commas)."""
    sign = "-" if minor < 0 else ""
    m = abs(minor)
    return f"{sign}{m // 100:,}.{m % 100:02d}"


def gulf():
    """Gulf Express: windows-1256 CSV, 2.5% COD fee (min 5.00), 15.00 freight, 15% VAT."""

    def fees(collected, freight=1500):
        cod = max(pct(collected, 25, 10), 500)
        vat = pct(freight + cod, 15, 1)
        return freight, cod, vat

    rows = []

    def line(awb, order, name, collected, status, freight=None, rto=0, net=None):
        if status in ("مرتجع", "قيد التوصيل"):
            f, c, v = 0, 0, 0
        else:
            f, c, v = fees(collected, 1500 if freight is None else freight)
        n = collected - f - c - v - rto if net is None else net
        rows.append([awb, order, name, grouped(collected), money(f), money(c), money(rto),
                     money(v), grouped(n), status, "04/03/2026", "GE-2026-0008", "600612345678"])
        return collected, f + c + v + rto, n

    totals = [
        line("1234567890", "ORD-1001", "محمد العتيبي", 48700, "تم التحصيل"),        # leading zeros lost
        line("1.23457E+11", "ORD-1002", "نورة القحطاني", 25000, "تم التحصيل"),      # exponent form
        line("123456789013.0", "ORD-1003", "عبدالله الشهري", 10000, "تم التحصيل"),  # trailing .0
        line("123456789014", "ORD-1004", "سارة الدوسري", 30000, "تم التحصيل", freight=2000),
        line("123456789015", "ORD-1005", "فهد الحربي", 20000, "تم التحصيل"),
        line("001234567890", "ORD-1001", "محمد العتيبي", 48700, "تم التحصيل"),      # duplicate
        line("123456789016", "ORD-1006", "ريم الزهراني", 0, "مرتجع", rto=2500),
        line("123456789017", "ORD-1007", "خالد المطيري", 15000, "Delivered"),
        line("123456789018", "ORD-1008", "هيفاء السبيعي", 12000, "تم التحصيل"),
        line("999999999999", "ORD-9999", "زائر مجهول", 125000, "تم التحصيل"),
        line("123456789019", "ORD-1009", "يوسف الغامدي", 0, "قيد التوصيل"),
    ]
    gross = sum(t[0] for t in totals)
    ded = sum(t[1] for t in totals)
    net = sum(t[2] for t in totals)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["كشف تحويل مبالغ الدفع عند الاستلام"] + [""] * 12)
    w.writerow(["Gulf Express - COD remittance statement GE-2026-0008"] + [""] * 12)
    w.writerow(["AWB No", "Order No", "Consignee", "COD Amount", "Freight", "COD Charges",
                "RTO Charges", "VAT", "Net Amount", "Status", "Delivery Date", "Remittance No",
                "Bank Ref"])
    w.writerows(rows)
    w.writerow(["المجموع", "", "", grouped(gross), "", "", "", "", grouped(net), "", "", "", ""])
    with open(os.path.join(HERE, "gulf_express_sa.csv"), "wb") as f:
        f.write(out.getvalue().encode("cp1256"))


def eurocod():
    """EuroCOD: windows-1252, ';', decimal comma, no-break space thousands, net regime."""
    nb = "\u00a0"

    def de(minor):
        s = money(minor).replace(".", ",")
        whole, frac = s.split(",")
        neg = whole.startswith("-")
        whole = whole.lstrip("-")
        groups = []
        while len(whole) > 3:
            groups.insert(0, whole[-3:])
            whole = whole[:-3]
        groups.insert(0, whole)
        return ("-" if neg else "") + nb.join(groups) + "," + frac

    def fee(collected):
        return max(pct(collected, 15, 10, "half_even"), 150) + 50

    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n")
    w.writerow(["Sendungsnummer", "Referenz", "Empfänger", "Auszahlungsbetrag", "Fracht",
                "Nachnahmegebühr", "Retourengebühr", "Status", "Zustelldatum", "Auszahlungs-ID"])
    c1 = 123456
    w.writerow(["EC100000001DE", "B-5001", "Zoë Müller – café", de(c1 - 490 - fee(c1)), de(490),
                de(fee(c1)), "", "Zugestellt", "02.03.2026", "AZ-2026-11"])
    w.writerow(["EC100000002DE", "B-5002", "Åsa Øberg", de(123456), "", "", "",
                "Zugestellt", "03.03.2026", "AZ-2026-11"])
    w.writerow(["EC100000003DE", "B-5003", "François Dupré", de(-390), "", "", de(390),
                "Retoure", "04.03.2026", "AZ-2026-11"])
    w.writerow(["Summe", "", "", de(c1 - 490 - fee(c1) + 123456 - 390), "", "", "", "", "", ""])
    with open(os.path.join(HERE, "eurocod_de.csv"), "wb") as f:
        f.write(out.getvalue().encode("cp1252"))


def bom():
    text = ("AWB,Order,COD Amount,Net Payable,Status\r\n"
            "HB0000000001,ord_1,100.00,80.00,Delivered\r\n")
    with open(os.path.join(HERE, "utf8_bom.csv"), "wb") as f:
        f.write(b"\xef\xbb\xbf" + text.encode("utf-8"))


def falcon():
    """Falcon Parcel: XLSX with numeric waybills and a total repeated on every piece."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Settlement"
    ws.append(["Falcon Parcel COD settlement FP-0311"])
    ws.append(["Waybill", "Reference", "COD Collected", "Shipping", "COD Fee", "VAT 5%",
               "Payable", "Status", "Delivered", "Pieces"])

    def fees(collected):
        cod = max(pct(collected, 3, 1), 300)
        vat = pct(1200 + cod, 5, 1)
        return 1200, cod, vat

    def row(waybill, ref, collected, pieces):
        f, c, v = fees(collected)
        net = collected - f - c - v
        ws.append([waybill, ref, collected / 100, f / 100, c / 100, v / 100, net / 100,
                   "Delivered", datetime.datetime(2026, 3, 5, 14, 30), pieces])
        return collected, f + c + v, net

    t = [
        row(123456789012, "FP-1001", 35000, 1),
        row("5000123-1", "FP-1002", 20000, 2),
        row("5000123-2", "FP-1002", 20000, 2),
        row(12345678901234567890, "FP-1003", 9900, 1),
    ]
    # the total row counts the two-piece parcel once
    gross = t[0][0] + t[1][0] + t[3][0]
    net = t[0][2] + t[1][2] + t[3][2]
    ws.append([None, None, gross / 100, None, None, None, net / 100, None, None, None])
    wb.save(os.path.join(HERE, "falcon_parcel_ae.xlsx"))


def swiftcod():
    """SwiftCOD: JSON with number literals, GST and TDS."""
    def line(awb, order, collected_text, collected, status, when):
        if collected > 0:
            cod = max(pct(collected, 175, 100), 3500)
            gst = pct(4500 + cod, 18, 1)
            tds = pct(4500 + cod, 1, 1)
            f = 4500
        else:
            f = cod = gst = tds = 0
        net = collected - f - cod - gst - tds
        return ('{"awb": %s, "order_id": "%s", "cod_amount": %s, "freight_charges": %s, '
                '"cod_charges": %s, "early_cod_charges": 0, "gst": %s, "tds": %s, '
                '"remitted_amount": %s, "status": "%s", "delivered_at": "%s", '
                '"utr": "UTR260305000123"}'
                % (awb, order, collected_text, money(f), money(cod), money(gst), money(tds),
                   money(net), status, when))

    lines = [
        line("123456789012345", "SO-77001", "1499.50", 149950, "delivered", "2026-03-02 18:45:00"),
        line('"SC998877665IN"', "SO-77002", "999.999", 100000, "delivered", "2026-03-03 09:05:00"),
        line('"SC998877666IN"', "SO-77003", "-500.00", -50000, "delivered", "2026-03-04 11:00:00"),
    ]
    doc = '{"crf_id": "CRF-88121", "remittances": [\n  ' + ",\n  ".join(lines) + "\n]}\n"
    json.loads(doc)  # must be valid JSON
    with open(os.path.join(HERE, "swiftcod_in.json"), "w", encoding="utf-8") as f:
        f.write(doc)


if __name__ == "__main__":
    gulf()
    eurocod()
    bom()
    falcon()
    swiftcod()

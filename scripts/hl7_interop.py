"""Independent HL7 v2 clients against `leuko mllp`: messages built with hl7apy, sent with the
`hl7` package's MLLP client, ACKs parsed back with `hl7`. Also a throughput figure.

Usage: hl7_interop.py PORT
"""
import socket
import sys
import time

import hl7
from hl7.client import MLLPClient
from hl7apy.core import Segment

PORT = int(sys.argv[1])
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def oru(control, pid, anc, units="10*9/L", version="2.5", value_type="NM", status="F"):
    """An ORU^R01 whose segments are built with hl7apy for the given version."""
    msh = Segment("MSH", version=version)
    msh.msh_1 = "|"
    msh.msh_2 = "^~\\&"
    msh.msh_3 = "LAB"
    msh.msh_4 = "HOSP"
    msh.msh_5 = "LEUKO"
    msh.msh_6 = "HOSP"
    msh.msh_7 = "20260301080000"
    msh.msh_9 = "ORU^R01"
    msh.msh_10 = control
    msh.msh_11 = "P"
    msh.msh_12 = version
    pid_seg = Segment("PID", version=version)
    pid_seg.pid_1 = "1"
    pid_seg.pid_3 = f"{pid}^^^HOSP^MR"
    pid_seg.pid_5 = "Doe^Jane"
    pid_seg.pid_7 = "19700517"
    pid_seg.pid_8 = "F"
    obr = Segment("OBR", version=version)
    obr.obr_1 = "1"
    obr.obr_4 = "58410-2^CBC panel^LN"
    obr.obr_7 = "20260301073000"
    obx = Segment("OBX", version=version)
    obx.obx_1 = "1"
    obx.obx_2 = value_type
    obx.obx_3 = "751-8^Neutrophils^LN"
    obx.obx_5 = anc
    obx.obx_6 = units
    obx.obx_7 = "1.5-7.0"
    obx.obx_8 = "L"
    obx.obx_11 = status
    obx.obx_14 = "20260301073000"
    return "\r".join(seg.to_er7() for seg in (msh, pid_seg, obr, obx))


def send(message):
    with MLLPClient("127.0.0.1", PORT) as client:
        raw = client.send_message(message)
    text = raw.decode() if isinstance(raw, bytes) else raw
    return hl7.parse(text.strip("\x0b\x1c\r\n"))


# A result per supported version, built by hl7apy, acknowledged AA.
for i, version in enumerate(["2.3", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.8"]):
    ack = send(oru(f"V{i}", f"PV{i}", "0.8", version=version))
    code = str(ack.segment("MSA")[1])
    check(f"version {version}", code == "AA", str(ack))
    check(f"version {version} control id", str(ack.segment("MSA")[2]) == f"V{i}", str(ack))

# Units escaped the HL7 way, and a structured numeric below the range.
ack = send(oru("U1", "PU", "0.5", units="x10\\S\\9/L"))
check("escaped unit", str(ack.segment("MSA")[1]) == "AA", str(ack))
ack = send(oru("S1", "PS", "<^0.5", value_type="SN"))
check("SN value", str(ack.segment("MSA")[1]) == "AA", str(ack))

# An implausible value: AE with an ERR segment that names OBX-5.
ack = send(oru("E1", "PE", "4000"))
check("implausible AE", str(ack.segment("MSA")[1]) == "AE", str(ack))
err = ack.segment("ERR")
check("ERR names OBX-5", "OBX" in str(err) and "5" in str(err), str(err))

# Not HL7: AR, and the listener keeps answering.
s = socket.create_connection(("127.0.0.1", PORT))
s.sendall(b"\x0bthis is not hl7\x1c\x0d")
reply = s.recv(65536).decode(errors="replace")
s.close()
check("garbage AR", "MSA|AR" in reply, reply)
ack = send(oru("A1", "PA", "1.1"))
check("alive after garbage", str(ack.segment("MSA")[1]) == "AA", str(ack))

# Throughput: messages acknowledged per second on one connection, one at a time.
n = 500
messages = [oru(f"T{i}", f"PT{i % 20}", "1.2") for i in range(n)]
with MLLPClient("127.0.0.1", PORT) as client:
    start = time.perf_counter()
    ok = 0
    for m in messages:
        raw = client.send_message(m)
        ok += b"MSA|AA" in (raw if isinstance(raw, bytes) else raw.encode())
    elapsed = time.perf_counter() - start
check("throughput run all AA", ok == n, f"{ok}/{n}")
print(f"hl7-interop: throughput {n / elapsed:.0f} messages/s acknowledged (one connection, one at a time, {n} messages, SQLite, each stored before its ACK)")
print(f"hl7-interop: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

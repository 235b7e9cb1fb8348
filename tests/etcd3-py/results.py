"""Turns pytest's JUnit XML into the lists ./run leaves in OUTDIR.

    results.py JUNIT_XML OUTDIR

passed.txt, failed.txt, skipped.txt: one pytest test id a line
(tests/test_etcd3.py::Class::test), sorted. A test is failed when any of
its phases failed or errored (a teardown error after a passed call too),
skipped when skipped, passed otherwise. failures.txt: "id<TAB>reason", the
first line of each failed test's message. Prints the counts.
"""

import os
import sys
import xml.etree.ElementTree as ET

MODULE = "tests.test_etcd3"
MODULE_PATH = "tests/test_etcd3.py"


def test_id(case):
    classname = case.get("classname", "")
    if classname == MODULE:
        parts = []
    elif classname.startswith(MODULE + "."):
        parts = classname[len(MODULE) + 1:].split(".")
    else:
        parts = [classname]
    return "::".join([MODULE_PATH] + parts + [case.get("name", "")])


def reason(element, stderr):
    """The message's first line, a gRPC error's status and details, and
    the last "Error: ..." line the test's commands (etcdctl) printed."""
    text = element.get("message") or element.text or element.tag
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return element.tag
    extra = [line for line in lines[1:]
             if line.startswith(("status = ", "details = "))]
    errors = [line.strip() for line in stderr.splitlines()
              if line.startswith("Error: ")]
    if lines[0].startswith("subprocess.CalledProcessError") and errors:
        extra.append("stderr: " + errors[-1])
    return " ".join(lines[:1] + extra)[:600]


def main(xml_path, outdir):
    status = {}
    reasons = {}
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        tid = test_id(case)
        state = status.setdefault(tid, "passed")
        stderr = "".join(e.text or "" for e in case.iter("system-err"))
        for child in case:
            if child.tag in ("failure", "error"):
                status[tid] = "failed"
                reasons.setdefault(tid, reason(child, stderr))
            elif child.tag == "skipped" and state == "passed":
                status[tid] = "skipped"
    for kind in ("passed", "failed", "skipped"):
        ids = sorted(t for t, s in status.items() if s == kind)
        with open(os.path.join(outdir, kind + ".txt"), "w") as f:
            f.writelines(t + "\n" for t in ids)
    with open(os.path.join(outdir, "failures.txt"), "w") as f:
        for tid in sorted(reasons):
            if status[tid] == "failed":
                f.write("%s\t%s\n" % (tid, reasons[tid].replace("\t", " ")))
    counts = {k: sum(1 for s in status.values() if s == k)
              for k in ("passed", "failed", "skipped")}
    print("%(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts)
    if not status:
        sys.exit("no test cases in " + xml_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""libxml2's exclusive C14N (through lxml), as an oracle for the broker's own.

Reads a JSON list of {"doc": str, "apex": [int, ...], "prefixes": [str, ...]}
on stdin; "apex" is the path of element-child indexes from the root to the
element to canonicalize. Writes a JSON list of {"c14n": str} or {"error": str}.
"""
import json
import sys

from lxml import etree

parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                         remove_blank_text=False, remove_comments=False, huge_tree=False)
out = []
for case in json.load(sys.stdin):
    try:
        el = etree.fromstring(case["doc"].encode("utf-8"), parser=parser)
        for i in case["apex"]:
            el = [c for c in el if isinstance(c.tag, str)][i]
        data = etree.tostring(el, method="c14n", exclusive=True, with_comments=False,
                              inclusive_ns_prefixes=case["prefixes"] or None)
        out.append({"c14n": data.decode("utf-8")})
    except Exception as e:  # noqa: BLE001 - reported back to the test
        out.append({"error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)

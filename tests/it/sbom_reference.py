"""Reads SBOMs with the official libraries and prints, as one JSON object,
every component each one lists: the reference side of
tests/it/sbom_differential.rs.

CycloneDX (JSON and XML) is read by cyclonedx-python-lib's deserialisers
(`Bom.from_json`, `Bom.from_xml`), SPDX 2.x (JSON and tag-value) by
spdx-tools (its JSON and tag-value parsers). Both come pinned in target/test-tools/py, which
scripts/test installs.

Usage: sbom_reference.py FILE...

Prints {"FILE": {"format": "cyclonedx"|"spdx", "components": [...]}} or
{"FILE": {"error": "..."}} for a file the library refuses. A component is
{"name", "version", "purls", "top"}: `purls` lists every package URL as
written (SPDX: every `purl` external reference of the package); `top` is
CycloneDX `metadata.component`, or an SPDX package the document DESCRIBES
(or that is DESCRIBED_BY it).
"""

import json
import sys
import warnings
from xml.etree import ElementTree

from cyclonedx.model.bom import Bom
from spdx_tools.spdx.model import RelationshipType
from spdx_tools.spdx.parser.json import json_parser
from spdx_tools.spdx.parser.tagvalue import tagvalue_parser

DOCUMENT_ID = "SPDXRef-DOCUMENT"


def text(value):
    """A model value as text: None stays None, a PackageURL is written out."""
    if value is None:
        return None
    if hasattr(value, "to_string"):
        return value.to_string()
    return str(value)


def cyclonedx_component(c, top):
    return {
        "name": c.name,
        "version": c.version,
        "purls": [text(c.purl)] if c.purl is not None else [],
        "top": top,
    }


def cyclonedx_tree(c, top, out):
    """c and its nested components, depth first, parents first."""
    stack = [(c, top)]
    while stack:
        c, top = stack.pop()
        out.append(cyclonedx_component(c, top))
        stack.extend((child, False) for child in reversed(list(c.components)))


def read_cyclonedx(data):
    if data.lstrip()[:1] == b"<":
        root = ElementTree.fromstring(data)
        # `{http://cyclonedx.org/schema/bom/1.6}bom` -> its namespace.
        namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else None
        bom = Bom.from_xml(root, default_namespace=namespace)
    else:
        bom = Bom.from_json(json.loads(data))
    out = []
    if bom.metadata is not None and bom.metadata.component is not None:
        cyclonedx_tree(bom.metadata.component, True, out)
    # The lib keeps components in a sorted set; the comparison is of
    # multisets, so the order does not matter.
    for c in bom.components:
        cyclonedx_tree(c, False, out)
    return {"format": "cyclonedx", "components": out}


def read_spdx(doc):
    described = set()
    for r in doc.relationships:
        if r.relationship_type == RelationshipType.DESCRIBES and r.spdx_element_id == DOCUMENT_ID:
            described.add(text(r.related_spdx_element_id))
        if r.relationship_type == RelationshipType.DESCRIBED_BY and text(r.related_spdx_element_id) == DOCUMENT_ID:
            described.add(r.spdx_element_id)
    out = []
    for p in doc.packages:
        out.append({
            "name": p.name,
            "version": p.version,
            "purls": [r.locator for r in p.external_references if r.reference_type == "purl"],
            "top": p.spdx_id in described,
        })
    return {"format": "spdx", "components": out}


def read(path):
    """Picks the format by content, as mcp-warden does (spdx-tools'
    parse_file would go by the file name's extension)."""
    with open(path, "rb") as f:
        data = f.read()
    first = data.lstrip()[:1]
    if first == b"{":
        keys = json.loads(data)
        if "spdxVersion" in keys:
            return read_spdx(json_parser.parse_from_file(path))
        if "bomFormat" not in keys:
            raise ValueError("a JSON document with neither spdxVersion nor bomFormat")
        return read_cyclonedx(data)
    if first == b"<":
        return read_cyclonedx(data)
    return read_spdx(tagvalue_parser.parse_from_file(path))


def main(paths):
    result = {}
    for path in paths:
        try:
            # The libraries warn about what they tolerate; only refusals count.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result[path] = read(path)
        except Exception as e:  # noqa: BLE001 - any refusal is reported, per file
            message = " ".join(f"{type(e).__name__}: {e}".split())
            result[path] = {"error": message[:1000]}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])

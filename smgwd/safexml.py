"""The one place where smgwd parses XML.

How this works: every document goes through one lxml parser configuration that
never resolves entities, never touches the network, never loads or validates a
DTD and keeps libxml2's size and entity-amplification limits (no ``huge_tree``).
After parsing, any document with a DOCTYPE is refused: none of our formats has
one, and refusing it covers entity declarations (XXE, "billion laughs") whatever
libxml2 did with them. Comments and processing instructions are dropped while
parsing, so callers see elements and text only. Schemas are shipped inside the
package and loaded with the same parser; their ``xs:include``/``xs:import`` can
reach only sibling resources of the same package.

Everything that goes wrong comes out as :class:`~smgwd.xmlerror.XmlError` (a
``ValueError``, re-exported here) with the line number when libxml2 knows it.
"""

from __future__ import annotations

import functools
from importlib import resources

from lxml import etree

from smgwd.xmlerror import XmlError

__all__ = ["XmlError", "load_schema", "parse_xml"]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, schema: etree.XMLSchema | None = None) -> etree._Element:
    """Parse a whole document safely and, if given, validate it against ``schema``.

    Returns the root element; raises :class:`XmlError` on anything else.
    """
    if not isinstance(data, bytes):
        raise XmlError(f"XML input must be bytes, got {type(data).__name__}")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise XmlError(f"malformed XML: {exc.msg}", exc.lineno) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlError("a DOCTYPE is not allowed (entity declarations are refused)")
    if schema is not None and not schema.validate(root):
        error = schema.error_log.last_error
        if error is None:
            raise XmlError("not valid against the schema")
        raise XmlError(f"not valid: {error.message}", error.line or None)
    return root


class _PackageResolver(etree.Resolver):
    """Serves ``xs:include``/``xs:import`` from the schema's own package directory only."""

    def __init__(self, directory: resources.abc.Traversable) -> None:
        super().__init__()
        self._directory = directory

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        name = system_url.rsplit("/", 1)[-1]
        resource = self._directory.joinpath(name)
        if not name.endswith(".xsd") or not resource.is_file():
            raise XmlError(f"schema refers to {system_url!r}, which is not a packaged schema")
        return self.resolve_string(resource.read_bytes(), context, base_url=system_url)


@functools.lru_cache(maxsize=None)
def load_schema(package: str, name: str) -> etree.XMLSchema:
    """Load (once) the XSD ``name`` shipped in ``package``.

    Example: ``load_schema("smgwd.cosem", "schemas/cosem-ldev.xsd")``.

    The returned schema is shared: validate with it from one thread at a time.
    """
    directory = resources.files(package)
    *folders, filename = name.split("/")
    for folder in folders:
        directory = directory.joinpath(folder)
    parser = _parser()
    parser.resolvers.add(_PackageResolver(directory))
    try:
        document = etree.fromstring(directory.joinpath(filename).read_bytes(), parser,
                                    base_url=f"package:/{package}/{name}")
        return etree.XMLSchema(document)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise XmlError(f"schema {package}/{name}: {exc}") from None

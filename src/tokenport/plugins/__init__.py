"""OpenRouter's request plugins (`plugins: [{"id": ...}]` on a chat request).

    response-healing   a non-streamed json_object / json_schema answer that does not parse,
                       or does not match its schema, is repaired (json-repair) and checked
                       (jsonschema); the answer and its record say it healed (`healing.py`)
    file-parser        PDF file parts become text (pypdf) before the model sees them; the
                       pages read and their cost are counted (`file_parser.py`)

`Plugins.apply` is the one seam: the edge calls it only when a request names a plugin, so a
request without plugins costs nothing here.
"""

from tokenport.plugins.registry import KNOWN, Plugins

__all__ = ["KNOWN", "Plugins"]

"""Text in photos.

- `ocr.read` (ReadTool): the text lines of a local image with boxes, confidence and
  script; offline: rapidocr_onnxruntime's PP-OCRv4 models (inside its wheel) for Latin
  letters, digits and Chinese, Debian's Tesseract for the other scripts named in `langs`.
"""

from gre_agent.tools.ocr._models import OcrText, Point, ReadArgs, ReadResult
from gre_agent.tools.ocr._tool import ReadTool, read_image

__all__ = ["OcrText", "Point", "ReadArgs", "ReadResult", "ReadTool", "read_image"]

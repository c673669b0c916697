"""Long documents and long videos for the long-context stage (the report continues training at 32,768 tokens).

- A multi-page PDF becomes page images and their text layer (pypdfium2): one OCR record per page (the page's
  text is the answer and the pre-training caption), and long interleaved records — page image, page text, next
  page … — cut at a token budget, so each is one sample that fills most of a pack.
- A long video becomes one record whose frames (every k-th, the smallest k that fits) keep the sample within the
  pack length; the sample is measured by encoding it, since the video processor resamples and resizes frames.

Token counts come from the processor itself (the tokenizer for text, the image processor's grid for a page), so
a document sample's length is known without encoding the whole sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from thinkvl.data.record import Record

OCR_PROMPT = "Read all the text on this page."
# [gMASK] <sop> … <|endoftext|> around a pre-training sample.
SAMPLE_OVERHEAD = 3


@dataclass
class Page:
    number: int  # 1-based
    image: str  # path relative to the dataset directory
    text: str


def render_pdf(pdf: str | Path, root: str | Path, *, dpi: float = 72, max_pages: int = 0) -> list[Page]:
    """Each page of ``pdf`` as ``root/images/<stem>-p0001.png`` (rendered at ``dpi``) with its text layer."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        raise ImportError("reading PDFs needs pypdfium2 (`pip install pypdfium2`)") from None
    pdf, root = Path(pdf), Path(root)
    try:
        doc = pdfium.PdfDocument(str(pdf))
    except Exception as err:  # pypdfium2 raises its own PdfiumError for unreadable files
        raise ValueError(f"can't open PDF {pdf.name}: {err}") from None
    pages = []
    try:
        (root / "images").mkdir(parents=True, exist_ok=True)
        for i in range(len(doc) if not max_pages else min(len(doc), max_pages)):
            page = doc[i]
            rel = f"images/{pdf.stem}-p{i + 1:04d}.png"
            page.render(scale=dpi / 72).to_pil().convert("RGB").save(root / rel)
            text = page.get_textpage().get_text_range().replace("\r\n", "\n").strip()
            pages.append(Page(i + 1, rel, text))
    finally:
        doc.close()
    return pages


def ocr_records(pages: list[Page], doc_id: str) -> list[Record]:
    """One OCR record per page that has text: the page image, asked for its text."""
    return [
        Record(
            f"{doc_id}-p{p.number:04d}",
            "ocr",
            [{"role": "user", "content": [{"type": "image", "image": p.image}, {"type": "text", "text": OCR_PROMPT}]}],
            p.text,
            meta={"caption": p.text, "source": doc_id, "page": p.number},
        )
        for p in pages
        if p.text
    ]


class TokenCounter:
    """Tokens each part of a sample takes, from the processor: text by its tokenizer, an image by the grid its
    image processor makes (merged patches) plus the image's two boundary tokens."""

    def __init__(self, processor: Any):
        self.processor = processor
        self.merge = processor.image_processor.merge_size

    def text(self, text: str) -> int:
        return len(self.processor.tokenizer.encode(text, add_special_tokens=False))

    def image(self, path: str | Path) -> int:
        with Image.open(path) as img:
            grid = self.processor.image_processor(images=[img.convert("RGB")], return_tensors="pt")["image_grid_thw"]
        return int(grid.prod()) // self.merge**2 + 2


def long_document_records(
    pages: list[Page], doc_id: str, root: str | Path, counter: TokenCounter, target_tokens: int
) -> list[Record]:
    """The document as interleaved records (page image, then its text), each at most ``target_tokens`` tokens as a
    pre-training sample; a page that alone is longer gets a record of its own (the packer truncates its text)."""
    root = Path(root)
    records: list[Record] = []
    parts: list[dict[str, Any]] = []
    used = SAMPLE_OVERHEAD
    first = 0

    def flush(last: int) -> None:
        if parts:
            rid = f"{doc_id}-long-p{first:04d}-{last:04d}"
            meta = {"source": doc_id, "pages": [first, last], "tokens": used}
            records.append(Record(rid, "interleaved", [{"role": "user", "content": list(parts)}], "", meta=meta))

    for i, page in enumerate(pages):
        text = page.text + "\n\n" if i + 1 < len(pages) else page.text
        cost = counter.image(root / page.image) + counter.text(text)
        if parts and used + cost > target_tokens:
            flush(pages[i - 1].number)
            parts, used = [], SAMPLE_OVERHEAD
        if not parts:
            first = page.number
        parts += [{"type": "image", "image": page.image}] + ([{"type": "text", "text": text}] if text else [])
        used += cost
    flush(pages[-1].number if pages else 0)
    return records


def build_documents(
    pdfs: list[Path], root: str | Path, processor: Any, target_tokens: int, *, dpi: float = 144, max_pages: int = 0
) -> dict[str, int]:
    """PDFs → ``root/records.jsonl``: each page an OCR record, each document long interleaved records of at most
    ``target_tokens`` tokens; returns the counts. An unreadable PDF stops the run with its name."""
    from thinkvl.data.loaders import write_jsonl

    root = Path(root)
    counter = TokenCounter(processor)
    ocr: list[Record] = []
    long: list[Record] = []
    pages_seen = 0
    for pdf in pdfs:
        pages = render_pdf(pdf, root, dpi=dpi, max_pages=max_pages)
        pages_seen += len(pages)
        ocr += ocr_records(pages, pdf.stem)
        long += long_document_records(pages, pdf.stem, root, counter, target_tokens)
    write_jsonl(ocr + long, root / "records.jsonl")
    return {"documents": len(pdfs), "pages": pages_seen, "ocr_records": len(ocr), "long_records": len(long)}

"""PDFs and Word documents built for the tests (what people share in threads), with text layers or not."""
import io
import zipfile

from pypdf import PdfReader, PdfWriter

def make_pdf(contents: list[bytes], image: bool = False) -> bytes:
    """A valid PDF written by hand: one page per content stream, Helvetica as /F1, a correct xref.
    With ``image`` every page also has a 2×2 grey image as /Im1."""
    objects: dict[int, bytes] = {1: b"<< /Type /Catalog /Pages 2 0 R >>",
                                 3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
                                 4: b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray "
                                    b"/BitsPerComponent 8 /Length 4 >>\nstream\n\x00\x80\x80\xff\nendstream"}
    kids = []
    for index, content in enumerate(contents):
        page, stream = 5 + 2 * index, 6 + 2 * index
        kids.append(f"{page} 0 R")
        xobjects = "/XObject << /Im1 4 0 R >>" if image else ""
        objects[page] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                         f"/Resources << /Font << /F1 3 0 R >> {xobjects} >> /Contents {stream} 0 R >>").encode()
        objects[stream] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content)
    objects[2] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def text_page(*lines: str) -> bytes:
    shows = b" ".join(b"(%s) Tj 0 -30 Td" % line.encode() for line in lines)
    return b"BT /F1 24 Tf 72 700 Td " + shows + b" ET"


def encrypted(pdf: bytes, user_password: str, algorithm: str = "RC4-128") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    '</Types>')


def para(*runs: str, tabs_defined: bool = False) -> str:
    """A w:p; in runs "\t" is a w:tab and "\n" a w:br."""
    inner = []
    for run in runs:
        pieces = []
        for i, part in enumerate(run.split("\n")):
            if i:
                pieces.append("<w:br/>")
            for j, chunk in enumerate(part.split("\t")):
                if j:
                    pieces.append("<w:tab/>")
                if chunk:
                    pieces.append(f'<w:t xml:space="preserve">{chunk}</w:t>')
        inner.append("<w:r>" + "".join(pieces) + "</w:r>")
    ppr = '<w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>' if tabs_defined else ""
    return f"<w:p>{ppr}{''.join(inner)}</w:p>"


def table(rows: list[list[str]]) -> str:
    return "<w:tbl>" + "".join("<w:tr>" + "".join(f"<w:tc>{para(cell)}</w:tc>" for cell in row) + "</w:tr>"
                               for row in rows) + "</w:tbl>"


def make_docx(body: str, document_xml: bytes | None = None) -> bytes:
    xml = document_xml or (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                           f'<w:document xmlns:w="{W_NS}"><w:body>{body}</w:body></w:document>').encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("word/document.xml", xml)
    return out.getvalue()

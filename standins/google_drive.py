"""FakeGoogle's Drive v3 files: what a test adds, and ``files.list``, ``files.get`` (metadata or
``alt=media``) and ``files.export`` over them.

Mixed into ``FakeGoogle``, whose lock guards ``_files`` and ``streams``; the token is checked before
these run (``google_oauth.py``), and the ``q`` and ``fields`` parsing is ``google_drive_query.py``.
"""
from __future__ import annotations

import copy
import secrets

from .google_drive_query import parse_fields, parse_query, select
from .google_wire import GoogleError, Seen, invalid_value

DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SLIDES = "application/vnd.google-apps.presentation"
FOLDER = "application/vnd.google-apps.folder"
_EXPORTS = {  # a subset of what Drive offers, enough to tell a right request from a wrong one
    DOC: {"text/plain", "text/html", "application/pdf", "application/rtf", "text/markdown",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    SHEET: {"text/csv", "text/tab-separated-values", "application/pdf",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    SLIDES: {"text/plain", "application/pdf",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
}
EXPORT_LIMIT = 10 * 1024 * 1024  # Drive refuses to export larger files


class DriveFiles:
    # ------------------------------------------------------------ files
    def add_file(self, name: str, mime_type: str, content: str | bytes = b"",
                 permissions: list[dict] | None = None, *, file_id: str | None = None, trashed: bool = False,
                 endless: bool = False) -> dict:
        """A file in the service account's view of Drive. ``permissions=None``: Drive hides them from us.
        ``endless=True``: ``alt=media`` streams ``content`` over and over until the client hangs up."""
        with self._lock:
            file_id = file_id or "1" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
            data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            if mime_type == DOC:
                link = f"https://docs.google.com/document/d/{file_id}/edit?usp=drivesdk"
            elif mime_type == SHEET:
                link = f"https://docs.google.com/spreadsheets/d/{file_id}/edit?usp=drivesdk"
            elif mime_type == SLIDES:
                link = f"https://docs.google.com/presentation/d/{file_id}/edit?usp=drivesdk"
            elif mime_type == FOLDER:
                link = f"https://drive.google.com/drive/folders/{file_id}"
            else:
                link = f"https://drive.google.com/file/d/{file_id}/view?usp=drivesdk"
            resource = {"kind": "drive#file", "id": file_id, "name": name, "mimeType": mime_type,
                        "trashed": trashed, "webViewLink": link}
            if not mime_type.startswith("application/vnd.google-apps."):
                resource["size"] = str(len(data))
            if permissions is not None:
                resource["permissions"] = [
                    {"kind": "drive#permission", "id": p.get("id") or f"perm{n}", "role": "reader", **p}
                    for n, p in enumerate(permissions)]
            self._files.append({"resource": resource, "data": data, "_text": text, "endless": endless})
            return copy.deepcopy(resource)

    # ------------------------------------------------------------ records
    def drive_requests(self) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/drive/")]

    # ------------------------------------------------------------ Drive v3
    def _find(self, file_id: str) -> dict:
        with self._lock:
            for f in self._files:
                if f["resource"]["id"] == file_id:
                    return f
        raise GoogleError(404, f"File not found: {file_id}.", "notFound", "fileId")

    def _list(self, query: dict) -> dict:
        matches = parse_query(query["q"]) if "q" in query else (lambda f: True)
        try:
            page_size = int(query.get("pageSize", "100"))
        except ValueError:
            raise invalid_value("pageSize") from None
        if not 1 <= page_size <= 1000:
            raise invalid_value("pageSize")
        try:
            offset = int(query.get("pageToken", "0"))
        except ValueError:
            raise invalid_value("pageToken") from None
        if query.get("includeItemsFromAllDrives") == "true" and query.get("supportsAllDrives") != "true":
            raise GoogleError(403, "The includeItemsFromAllDrives parameter can only be set to true when "
                                   "supportsAllDrives is also set to true.", "teamDrivesParameterNotSupported")
        selection = parse_fields(query["fields"]) if "fields" in query else \
            {"kind": True, "incompleteSearch": True, "nextPageToken": True,
             "files": {"kind": True, "id": True, "name": True, "mimeType": True}}
        with self._lock:
            found = [dict(f["resource"], _text=f["_text"]) for f in self._files]
        found = [f for f in found if matches(f)]
        page = found[offset:offset + page_size]
        body = {"kind": "drive#fileList", "incompleteSearch": False,
                "files": [{k: v for k, v in f.items() if k != "_text"} for f in page]}
        if offset + page_size < len(found):
            body["nextPageToken"] = str(offset + page_size)
        return select(body, selection)

    def _get(self, req, seen: Seen, file_id: str, query: dict):
        stored = self._find(file_id)
        resource = stored["resource"]
        if query.get("alt") != "media":
            selection = parse_fields(query["fields"]) if "fields" in query else \
                {"kind": True, "id": True, "name": True, "mimeType": True}
            return self._send_json(req, seen, 200, select(resource, selection))
        if resource["mimeType"].startswith("application/vnd.google-apps."):
            raise GoogleError(403, "Only files with binary content can be downloaded. Use Export with Docs "
                                   "Editors files.", "fileNotDownloadable", "alt")
        if not stored["endless"]:
            return self._send_bytes(req, seen, resource["mimeType"], stored["data"])
        # No Content-Length: the body ends when the connection does (HTTP/1.0).
        seen.status = 200
        state = {"sent": 0, "done": False}
        with self._lock:
            self.streams[file_id] = state
        req.send_response(200)
        req.send_header("Content-Type", resource["mimeType"])
        req.end_headers()
        chunk = (stored["data"] or b"x") * max(1, 65536 // max(1, len(stored["data"] or b"x")))
        try:
            while state["sent"] < 2 * 1024 ** 3:
                req.wfile.write(chunk)
                state["sent"] += len(chunk)
        except OSError:
            pass
        finally:
            state["done"] = True
            req.close_connection = True

    def _export(self, req, seen: Seen, file_id: str, query: dict):
        stored = self._find(file_id)
        mime = stored["resource"]["mimeType"]
        if mime not in _EXPORTS:
            raise GoogleError(403, "Export only supports Docs Editors files.", "fileNotExportable")
        wanted = query.get("mimeType")
        if not wanted:
            raise GoogleError(400, "Required parameter: mimeType", "required", "mimeType")
        if wanted not in _EXPORTS[mime]:
            raise GoogleError(400, "The requested conversion is not supported.", "badRequest", "convertTo")
        if len(stored["data"]) > EXPORT_LIMIT:
            raise GoogleError(403, "This file is too large to be exported.", "exportSizeLimitExceeded")
        data = stored["data"]
        if mime == DOC and wanted == "text/plain":
            data = "\ufeff".encode("utf-8") + data  # Docs' plain-text export starts with a byte order mark
        return self._send_bytes(req, seen, wanted if wanted.startswith("application/") else wanted + "; charset=utf-8",
                                data)

"""The App Home in FakeSlack: ``views.publish``, a DM opened (``conversations.open``), a file uploaded into
it (``files.getUploadURLExternal``, the upload URL, ``files.completeUploadExternal``), and the
``app_home_opened`` event that starts it all.

From /work/shared/AI_SURFACE_FACTS.md C and G: ``views.publish`` needs no scope, refuses a view past
250 kB (``view_too_large``), more than 100 blocks or a block Slack does not know (``invalid_blocks``,
one line per problem), ``not_enabled`` while the app's Home tab is off, and ``hash_conflict`` when
the ``hash`` given is not the published view's. ``conversations.open`` (in ``slack_access.py``) needs
``im:write`` and answers the DM's ``D…`` id; both upload methods need ``files:write``; a file completed with a ``channel_id``
lands there as a message carrying it, one without stays private to the bot. Mixed into ``FakeSlack``.
"""
from __future__ import annotations

import copy
import itertools
import json
import time

try:
    from .slack_blocks import MAX_ID, MAX_PRIVATE_METADATA, MAX_VIEW_BLOCKS, MAX_VIEW_BYTES, block_problems, invalid
    from .slack_limits import error
except ImportError:  # imported as a top-level module
    from slack_blocks import MAX_ID, MAX_PRIVATE_METADATA, MAX_VIEW_BLOCKS, MAX_VIEW_BYTES, block_problems, invalid
    from slack_limits import error

# Block types a Home view may hold (Block Kit reference: "Available in surfaces: … Home tabs").
HOME_BLOCK_TYPES = frozenset({"actions", "context", "divider", "file", "header", "image", "input", "markdown",
                              "rich_text", "section", "video"})
UPLOAD_PATH = "/upload/v1/"


class HomeMethods:
    home_tab_enabled = True  # the app's manifest turns the Home tab on (False: views.publish → not_enabled)

    def _init_home(self) -> None:
        self.home_views = {}  # user id -> the view published for them
        self._uploads = {}  # file id -> {"filename", "length", "data" (None until posted), "completed"}
        self._upload_numbers = itertools.count(1)
        self._methods.update({
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        })

    # ------------------------------------------------------------ test side
    def app_home_opened(self, user: str, tab: str = "home", event_id: str | None = None) -> dict:
        """The event_callback Slack sends when ``user`` opens the app's Home (or Messages) tab: ``view``
        only when a Home view was published for them before. Deliver it like any event."""
        with self._lock:
            channel = self._dm_of(user)
            view = copy.deepcopy(self.home_views.get(user))
        event = {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab,
                 "event_ts": f"{time.time():.6f}"}
        if view is not None:
            event["view"] = view
        return {"token": "XXX", "team_id": self.team_id, "api_app_id": self.app_id, "event": event,
                "type": "event_callback", "event_id": event_id or f"Ev{int(time.time() * 1e6):X}",
                "event_time": int(time.time()),
                "authorizations": [{"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id,
                                    "is_bot": True, "is_enterprise_install": False}]}

    def set_dm(self, user: str, channel: str) -> None:
        """The bot's DM with ``user`` is ``channel`` (an existing one): conversations.open answers it."""
        self.add_channel(channel, members=[self.bot_user_id, user], is_im=True)

    def home_button_payload(self, user: str, action_id: str, trigger_id: str | None = None) -> dict:
        """The block_actions payload of a click on a button of ``user``'s published Home view."""
        with self._lock:
            view = copy.deepcopy(self.home_views[user])
        button = next(e for b in view["blocks"] if b.get("type") == "actions" for e in b["elements"]
                      if e.get("action_id") == action_id)
        return {"type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": self.team_id},
                "api_app_id": self.app_id, "token": "XXX", "container": {"type": "view", "view_id": view["id"]},
                "trigger_id": trigger_id or self.new_trigger_id(), "team": {"id": self.team_id, "domain": "example"},
                "view": view, "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                                           "text": button["text"], "value": button.get("value", ""),
                                           "action_ts": f"{time.time():.6f}"}]}

    def files_in(self, channel: str) -> list[dict]:
        """The files shared into ``channel`` (each with its ``content``, for the tests)."""
        with self._lock:
            return [dict(f, content=self._uploads[f["id"]]["data"]) for m in self._channels.get(channel, [])
                    for f in m.get("files", [])]

    # ------------------------------------------------------------ views.publish
    def _views_publish(self, params):
        user, view = params.get("user_id"), params.get("view")
        if not user or not isinstance(view, dict):
            return error("invalid_arguments")
        if not self.home_tab_enabled:
            return error("not_enabled")
        refused = home_view_error(view)
        if refused:
            return refused
        published = self.home_views.get(user)
        if params.get("hash") and (published is None or params["hash"] != published["hash"]):
            return error("hash_conflict")
        number = next(self._trigger_numbers)
        view_id = published["id"] if published else f"VH{number:09d}"
        stored = {"id": view_id, "team_id": self.team_id, "type": "home", "blocks": [], "private_metadata": "",
                  "callback_id": "", "state": {"values": {}}, "app_id": self.app_id, "bot_id": self.bot_id,
                  "external_id": "", "previous_view_id": None}
        stored.update(copy.deepcopy(view))
        stored.update(id=view_id, root_view_id=view_id, hash=f"{time.time():.6f}.{number:08x}")
        self.home_views[user] = stored
        return {"ok": True, "view": copy.deepcopy(stored)}

    # ------------------------------------------------------------ DMs
    def _dm_of(self, user):
        """The bot's DM with ``user``, opened as ``conversations.open`` would (``slack_access.py``)."""
        return self.dm_with(user) or self._conversations_open({"users": user})["channel"]["id"]

    # ------------------------------------------------------------ files
    def _files_get_upload_url(self, params):
        filename = params.get("filename")
        try:
            length = int(params.get("length"))
        except (TypeError, ValueError):
            return error("invalid_arguments")
        if not filename or length < 1:
            return error("invalid_arguments")
        file_id = f"F{next(self._upload_numbers):010d}"
        self._uploads[file_id] = {"filename": filename, "length": length, "data": None, "completed": False,
                                  "alt_txt": params.get("alt_txt")}
        return {"ok": True, "upload_url": f"http://127.0.0.1:{self.port}{UPLOAD_PATH}{file_id}", "file_id": file_id}

    def _serve_upload(self, req):
        """The upload URL: its bytes POSTed (Slack answers 200 "OK - <length>")."""
        file_id = req.path[len(UPLOAD_PATH):].split("?")[0]
        data = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        with self._lock:
            upload = self._uploads.get(file_id)
            ok = upload is not None and not upload["completed"]
            if ok:
                upload["data"] = data
        status, body = (200, f"OK - {len(data)}") if ok else (404, "Not Found")
        req.send_response(status)
        req.send_header("Content-Type", "text/plain")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body.encode())

    def _files_complete_upload(self, params):
        files = params.get("files")
        if isinstance(files, str):
            try:
                files = json.loads(files)
            except ValueError:
                return error("invalid_arguments")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            return error("invalid_arguments")
        uploads = [self._uploads.get(f.get("id")) for f in files]
        if any(u is None or u["data"] is None or u["completed"] for u in uploads):
            return error("file_not_found")  # never issued, its bytes never posted, or completed already
        channel = params.get("channel_id")
        if channel and not self._can_see(channel, self.bot_user_id):
            return error("channel_not_found")
        shared = []
        for item, upload in zip(files, uploads):
            upload["completed"] = True
            shared.append(self._file_object(item["id"], upload, item.get("title") or upload["filename"], channel))
        if channel:
            message = self._bot_message()
            message.update(text=params.get("initial_comment") or "", files=shared, upload=True)
            self._insert(channel, message, params.get("thread_ts"))
        # Slack shares asynchronously: the response's ``shares`` is often still empty (facts G).
        return {"ok": True, "files": [dict(f, shares={}) for f in shared]}

    def _file_object(self, file_id, upload, title, channel):
        name = upload["filename"]
        url = f"http://127.0.0.1:{self.port}/files-pri/{self.team_id}-{file_id}/{name}"
        self._files[f"/files-pri/{self.team_id}-{file_id}/{name}"] = ("text/csv", upload["data"])
        return {"id": file_id, "name": name, "title": title, "mimetype": "text/csv" if name.endswith(".csv")
                else "application/octet-stream", "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
                "size": len(upload["data"]), "url_private": url, "url_private_download": url + "?download=1",
                "channels": [channel] if channel else [], "is_public": False, "user": self.bot_user_id}


def home_view_error(view):
    """The error ``views.publish`` answers for ``view``, or None."""
    if view.get("type") != "home":
        return error("invalid_arguments")
    if len(json.dumps(view, ensure_ascii=False).encode("utf-8")) > MAX_VIEW_BYTES:
        return error("view_too_large")
    blocks = view.get("blocks", [])
    problems = block_problems(blocks, max_blocks=MAX_VIEW_BLOCKS, path="/view/blocks")
    for i, block in enumerate(blocks if isinstance(blocks, list) else []):
        if isinstance(block, dict) and isinstance(block.get("type"), str) and block["type"] not in HOME_BLOCK_TYPES:
            problems.append(f"unsupported block type {block['type']} [json-pointer:/view/blocks/{i}/type]")
    for key, limit in (("private_metadata", MAX_PRIVATE_METADATA), ("callback_id", MAX_ID)):
        if isinstance(view.get(key), str) and len(view[key]) > limit:
            problems.append(f"must be less than {limit + 1} characters [json-pointer:/view/{key}]")
    return invalid("invalid_blocks", problems) if problems else None

"""Files, canvases, channels' kinds and members, people, and message search in FakeSlack.

Mixed into ``FakeSlack``, whose lock and messages these methods use: what the knowledge
features read (``files.info``, ``url_private`` downloads that need the bot token,
``conversations.info`` with a channel's canvas, ``conversations.members``, ``users.info``,
``search.messages`` with user tokens only).
"""
import copy
import math
from urllib.parse import quote, urlsplit

try:
    from .slack_limits import error
except ImportError:  # imported as a top-level module
    from slack_limits import error


class KnowledgeMethods:
    def add_file(self, name, content: bytes, mimetype="text/plain", filetype="text"):
        """A file as Slack describes it in a message's ``files``; its ``url_private``
        needs the bot token, like Slack's (without it Slack answers a login page)."""
        with self._lock:
            file_id = f"F{len(self._files) + 1:08d}"
        path = f"/files-pri/{self.team_id}-{file_id}/{quote(name)}"
        with self._lock:
            self._files[path] = (mimetype, content)
        url = f"http://127.0.0.1:{self.port}{path}"
        with self._lock:
            self._file_meta[file_id] = meta = {"id": file_id, "name": name, "title": name, "mimetype": mimetype, "filetype": filetype,
                "size": len(content), "url_private": url, "url_private_download": url + "?download=1",
                "mode": "hosted", "is_external": False}
        return meta

    def redirect_file(self, file, location):
        """The file's url_private answers 302 to ``location`` (a CDN, or somewhere it must not go)."""
        with self._lock:
            self._file_redirects[urlsplit(file["url_private"]).path] = location

    def add_canvas(self, channel, title, html):
        """A channel canvas: a file of filetype ``quip`` whose url_private serves HTML, linked
        from ``conversations.info`` as ``properties.canvas.file_id``."""
        meta = self.add_file(title, html.encode("utf-8"), mimetype="text/html", filetype="quip")
        meta.update(mimetype="application/vnd.slack-docs", mode="quip", pretty_type="Canvas")
        self.set_channel(channel, canvas=meta["id"])
        return meta

    def set_channel(self, channel, **info):
        """name, is_private, is_im, is_mpim, members (list of user ids), canvas (file id)."""
        with self._lock:
            self._channel_info.setdefault(channel, {}).update(info)

    def set_user(self, user, email):
        with self._lock:
            self._users[user] = email

    def permalink(self, channel, ts, thread_ts=None):
        link = f"https://fake-team.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return link + (f"?thread_ts={thread_ts}&cid={channel}" if thread_ts and thread_ts != ts else "")

    def _serve_get(self, req):
        if req.path.startswith("/files-pri/"):
            self._serve_file(req)
        else:
            self._serve(req)

    def _serve_file(self, req):
        path = urlsplit(req.path).path
        authorized = req.headers.get("Authorization", "") == f"Bearer {self.bot_token}"
        with self._lock:
            self.file_downloads.append((path, authorized))
            found = self._files.get(path)
            redirect = self._file_redirects.get(path)
        if redirect:
            req.send_response(302)
            req.send_header("Location", redirect)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        if found and authorized:
            mimetype, body = found
        else:
            mimetype, body = "text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
        req.send_response(200 if found or not authorized else 404)
        req.send_header("Content-Type", mimetype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


    def _channel_object(self, channel):
        info = self._channel_info.get(channel, {})
        is_im, is_mpim = bool(info.get("is_im")), bool(info.get("is_mpim"))
        private = bool(info.get("is_private")) or is_im or is_mpim
        obj = {"id": channel, "name": info.get("name", channel.lower()), "is_channel": not private,
               "is_group": private and not (is_im or is_mpim), "is_im": is_im, "is_mpim": is_mpim,
               "is_private": private, "is_archived": False, "is_shared": False, "is_ext_shared": False,
               "is_org_shared": False, "is_member": True}
        if info.get("canvas"):
            obj["properties"] = {"canvas": {"file_id": info["canvas"], "is_empty": False,
                                            "quip_thread_id": "Q" + info["canvas"]}}
        return obj

    def _members(self, channel):
        info = self._channel_info.get(channel, {})
        if "members" in info:
            return list(info["members"])
        posted = [m.get("user") for m in self._channels.get(channel, []) if m.get("user")]
        return list(dict.fromkeys([self.bot_user_id] + posted))

    def _conversations_info(self, params):
        channel = params.get("channel")
        if not channel or (channel not in self._channels and channel not in self._channel_info):
            return error("channel_not_found")
        return {"ok": True, "channel": self._channel_object(channel)}

    def _conversations_members(self, params):
        channel = params.get("channel")
        if not channel or (channel not in self._channels and channel not in self._channel_info):
            return error("channel_not_found")
        members = self._members(channel)
        limit = min(1000, int(params.get("limit") or 100))
        cursor = str(params.get("cursor") or "")
        if cursor and not (cursor.startswith("m:") and cursor[2:].isdigit()):
            return error("invalid_cursor")
        start = int(cursor[2:]) if cursor else 0
        rest = members[start + limit:]
        return {"ok": True, "members": members[start:start + limit],
                "response_metadata": {"next_cursor": f"m:{start + limit}" if rest else ""}}

    def _users_info(self, params):
        user = params.get("user")
        if not user:
            return error("user_not_found")
        profile = {"real_name": user, "display_name": user}
        if user in self._users:
            profile["email"] = self._users[user]
        return {"ok": True, "user": {"id": user, "team_id": self.team_id, "name": user.lower(),
                                     "deleted": False, "is_bot": False, "profile": profile}}

    def _files_info(self, params):
        meta = self._file_meta.get(params.get("file", ""))
        if meta is None:
            return error("file_not_found")
        return {"ok": True, "file": copy.deepcopy(meta), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _search_messages(self, params):
        # Slack: search.* takes user tokens only.
        if self._caller not in self.user_tokens:
            return error("not_allowed_token_type")
        words = [w.lower() for w in str(params.get("query", "")).split() if w]
        if not words:
            return error("no_query")
        count = min(100, int(params.get("count") or 20))
        matches = []
        for channel, msgs in self._channels.items():
            for msg in msgs:
                text = msg.get("text") or ""
                if msg.get("bot_id") or not all(w in text.lower() for w in words):
                    continue
                obj = self._channel_object(channel)
                matches.append({"iid": f"i{len(matches)}", "team": self.team_id, "type": "message",
                                "channel": {k: obj[k] for k in ("id", "name", "is_channel", "is_group", "is_im",
                                                                "is_mpim", "is_private", "is_shared",
                                                                "is_ext_shared", "is_org_shared")},
                                "user": msg.get("user"), "username": (msg.get("user") or "").lower(),
                                "ts": msg["ts"], "text": text,
                                "permalink": self.permalink(channel, msg["ts"], msg.get("thread_ts"))})
        page = matches[:count]
        return {"ok": True, "query": params.get("query"),
                "messages": {"total": len(matches), "matches": page,
                             "paging": {"count": count, "total": len(matches), "page": 1,
                                        "pages": max(1, math.ceil(len(matches) / count))},
                             "pagination": {"total_count": len(matches), "page": 1, "per_page": count,
                                            "page_count": 1, "first": 1, "last": len(page)}}}


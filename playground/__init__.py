"""The offline playground: try Threadwise in a browser, without Slack (``python -m playground``)."""

"""Shared test set-up: the embedded default's environment, isolated per session."""

import os

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# In-process sessions stay local (a test that wants the warm engine starts its
# own server); a shell the docs test runs is a newcomer's again (helpers/demo_state.py).
os.environ["LAKEHOUSE_WARM_ENGINE"] = "off"

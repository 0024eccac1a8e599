"""What the fixtures promise about the services they start."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import services_state_dir


def test_local_services_live_outside_what_another_pytest_session_rewrites(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    # a session starting meanwhile sets the directory of every session's tmp_path
    # (/tmp/pytest-of-USER) to mode 0700: a server running as another user would lose
    # its data directory if it were under it
    sessions_root = tmp_path_factory.getbasetemp().parent
    state = services_state_dir()
    try:
        assert sessions_root not in state.parents
        assert not state.exists() and state.parent.is_dir()
    finally:
        shutil.rmtree(state.parent)

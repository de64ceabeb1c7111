"""plumbing/automations.py: the automations as the server takes them, and a bad block setting said in one line."""

import uuid

from plumbing import automations


def test_each_automation_file_is_what_the_server_takes_with_the_block_in_place():
    block = str(uuid.uuid4())
    found = automations.definitions(block)
    assert sorted(a.name for a in found) == ["mnist-flow champion moved", "mnist-flow run failed"]
    assert all(str(action.block_document_id) == block for a in found for action in a.actions)


def test_a_block_setting_without_its_type_is_one_line_and_exit_2(monkeypatch, capsys):
    monkeypatch.setenv(automations.SETTING, "team-channel")  # no "<block type>/"
    assert automations.main() == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "expected <block type>/<name>" in err


def test_without_the_setting_nothing_is_applied_and_it_says_why(monkeypatch, capsys):
    monkeypatch.delenv(automations.SETTING, raising=False)
    assert automations.main() == 0
    assert "automations not applied" in capsys.readouterr().out

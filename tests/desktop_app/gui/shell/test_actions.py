"""Actions are data: every declared action exists on the real window and obeys its rule."""

from __future__ import annotations

from desktop_app.gui.shell.actions import (
    ACTIONS,
    MENUS,
    RECENT,
    SEP,
    TOOLBAR,
    ActionContext,
    _resolve,
    update_enabled,
)


def test_names_are_unique_and_menus_only_name_declared_actions():
    names = [spec.name for spec in ACTIONS]
    assert len(names) == len(set(names))
    placed = [n for _title, items in MENUS for n in items] + list(TOOLBAR)
    assert {n for n in placed if n not in (SEP, RECENT)} <= set(names)
    assert {n for _t, items in MENUS for n in items if n not in (SEP, RECENT)} == set(names)


def test_every_action_is_built_and_its_slot_resolves_on_the_window(make_window):
    window = make_window()
    for spec in ACTIONS:
        action = getattr(window, f"{spec.name}_action")
        assert action is window.actions_by_name[spec.name]
        assert callable(_resolve(window, spec.slot))
        if spec.shortcut is not None:
            assert not action.shortcut().isEmpty(), spec.name


def test_enable_rules_follow_the_context(make_window):
    window = make_window()
    idle = ActionContext(can_analyse=True, running=False, has_rows=False, has_case=False)
    update_enabled(window.actions_by_name, idle)
    assert window.open_folder_action.isEnabled()
    assert not window.export_csv_action.isEnabled()
    assert not window.cancel_action.isEnabled()
    assert not window.next_flagged_action.isEnabled()
    busy = ActionContext(can_analyse=True, running=True, has_rows=True, has_case=True)
    update_enabled(window.actions_by_name, busy)
    assert window.cancel_action.isEnabled() and window.export_csv_action.isEnabled()
    assert window.toggle_reviewed_action.isEnabled() and window.export_case_pdf_action.isEnabled()
    loading = ActionContext(can_analyse=False, running=False, has_rows=True, has_case=False)
    update_enabled(window.actions_by_name, loading)
    assert not window.open_folder_action.isEnabled()
    assert not window.export_csv_action.isEnabled()

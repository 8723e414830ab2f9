"""acl.yaml rules: which file gets which groups, from the folder, below it and above it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.records import SourceDocument
from ingest.acl import AclError, AclRules
from ingest.sources import Failure, Root, read_root
from tests.conftest import write

DEFAULT = ("everyone",)


def groups(path: Path) -> dict[str, tuple[str, ...]]:
    """doc id -> groups of what read_root gives for `path`."""
    items = list(read_root(Root(path), DEFAULT, 2**20))
    assert not [i for i in items if isinstance(i, Failure)]
    return {i.doc_id: i.acl for i in items if isinstance(i, SourceDocument)}


@pytest.fixture
def company(tmp_path: Path) -> Path:
    return write(
        tmp_path / "company",
        {
            "acl.yaml": '"hr/salaries/*": [hr, finance]\n"hr/**": [hr]\n"*.md": [staff]\n',
            "hr/leave.txt": "年假规定。",
            "hr/salaries/2024.txt": "薪资表。",
            "hr/salaries/acl.yaml": '"secret*": [board]\n',
            "hr/salaries/secret.txt": "董事会资料。",
            "public/menu.md": "# 菜单\n今日午餐。",
        },
    )


def test_an_acl_yaml_above_a_synced_folder_applies(company: Path) -> None:
    assert groups(company / "hr") == {
        "hr/leave.txt": ("hr",),
        "hr/salaries/2024.txt": ("hr", "finance"),
        "hr/salaries/secret.txt": ("board",),  # nearest acl.yaml first
    }
    assert groups(company / "hr" / "salaries") == {
        "salaries/2024.txt": ("hr", "finance"),
        "salaries/secret.txt": ("board",),
    }


def test_an_acl_yaml_above_a_synced_file_applies(company: Path) -> None:
    assert groups(company / "hr" / "leave.txt") == {"leave.txt": ("hr",)}
    assert groups(company / "hr" / "salaries" / "secret.txt") == {"secret.txt": ("board",)}
    assert groups(company / "public" / "menu.md") == {"menu.md": ("staff",)}


def test_the_whole_tree_gets_the_same_groups_from_any_root(company: Path) -> None:
    whole = groups(company)
    assert whole["company/public/menu.md"] == ("staff",)
    for doc_id, acl in groups(company / "hr").items():
        assert whole[f"company/{doc_id}"] == acl


def test_relative_root_paths_find_the_rules_above(
    company: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(company / "hr")
    assert groups(Path("salaries")) == {
        "salaries/2024.txt": ("hr", "finance"),
        "salaries/secret.txt": ("board",),
    }
    rules = AclRules.load(Path("leave.txt"), DEFAULT)
    assert rules.groups_for(Path("leave.txt")) == ("hr",)


def test_a_pattern_given_twice_is_an_error_naming_it(tmp_path: Path) -> None:
    docs = write(tmp_path / "d", {"acl.yaml": '"*.md": [hr]\n"*": [staff]\n"*.md": [everyone]\n'})
    with pytest.raises(AclError, match=r"pattern '\*\.md' is given twice \(line 3\)"):
        AclRules.load(docs, DEFAULT)
    items = list(read_root(Root(docs), DEFAULT, 2**20))
    assert [(i.file, "given twice" in i.reason) for i in items] == [("", True)]  # type: ignore[union-attr]


def test_a_bad_acl_yaml_above_the_root_syncs_nothing(tmp_path: Path) -> None:
    docs = write(tmp_path / "top", {"acl.yaml": "- not a mapping\n", "sub/a.txt": "正文。"})
    items = list(read_root(Root(docs / "sub"), DEFAULT, 2**20))
    assert len(items) == 1 and isinstance(items[0], Failure) and items[0].file == ""


def test_acl_yaml_in_hidden_or_symlinked_folders_is_not_read(tmp_path: Path) -> None:
    # The folders searched for rules are the folders whose files are read.
    outside = write(tmp_path / "outside", {"acl.yaml": "- broken\n"})
    docs = write(tmp_path / "docs", {"a.txt": "正文。", ".git/acl.yaml": "- broken\n"})
    (docs / "linked").symlink_to(outside)
    assert AclRules.load(docs, DEFAULT).groups_for(docs / "a.txt") == DEFAULT

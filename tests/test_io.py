"""The one merge of every results file: a group of rows with the same keys is replaced where it stood, new groups
go last, and every other stored row is kept."""

from __future__ import annotations

import pandas as pd
import pytest

from gli_helpers.errors import DataError
from gli_helpers.io import merge_rows


def test_merge_replaces_groups_in_place_and_keeps_the_rest():
    old = pd.DataFrame({"method": ["a", "b", "b", "c"], "seed": [0, 0, 1, 0], "v": [1, 2, 3, 4]})
    new = pd.DataFrame({"method": ["b", "d"], "seed": [1, 0], "v": [30, 50]})
    merged = merge_rows(old, new, ["method", "seed"])
    assert merged.to_dict("list") == {"method": ["a", "b", "b", "c", "d"], "seed": [0, 0, 1, 0, 0], "v": [1, 2, 30, 4, 50]}
    by_method = merge_rows(old, new, ["method"])  # the whole group "b" is replaced by new's one row
    assert by_method.to_dict("list") == {"method": ["a", "b", "c", "d"], "seed": [0, 1, 0, 0], "v": [1, 30, 4, 50]}
    assert merge_rows(None, new, ["method"]).equals(new)


def test_merge_refuses_stored_rows_without_the_keys():
    with pytest.raises(DataError, match=r"no column\(s\) \['seed'\]"):
        merge_rows(pd.DataFrame({"method": ["a"]}), pd.DataFrame({"method": ["a"], "seed": [0]}), ["method", "seed"])

from yiwang.catalog import search


def test_published_item_is_found_by_name_alias_and_material(published):
    assert [e.item_id for e in search.search("食品经营许可")] == [published.item_id]
    assert [e.item_id for e in search.search("开饭店")] == [published.item_id]
    assert [e.item_id for e in search.search("营业执照")] == [published.item_id]
    assert list(search.search("护照")) == []

"""Bundled demo data: demo-en.zim, built from demo-en.jsonl by `gre data wikipedia build-zim`."""

"""The linkage engine: loading, standardising, linking, clustering, evaluating."""

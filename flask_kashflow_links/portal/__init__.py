"""The client portal: the blueprint, its one check pipeline, pages and presenters."""

"""Run every benchmark: ``python -m tests.bench``."""

from tests.bench import sml_decode

sml_decode.main()

"""Static files: WhiteNoise's compressed, hashed storage, with the game page's ES modules rewritten too.

The page script is split into modules that import each other by relative path
(``import { x } from './state.js';``). Django rewrites those paths to the hashed file names only
when ``support_js_module_import_aggregation`` is on, so a browser never mixes an old module from
its cache with a new one. Django's patterns need the ``from '...'`` form ending in a semicolon,
and modules must not import each other in a cycle (hashes would never settle).
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True

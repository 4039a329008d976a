#!/bin/sh
# Regenerates what is generated from doc/data-model.md (the one source of the descriptions
# of every table, view and column):
#   Sources/PodpipeCore/SQL/catalog/podpipe_catalog.sql  the podpipe_catalog rows
#   deploy/datasette-metadata.json                       descriptions, hidden internals and
#                                                        the top-episodes canned query
# by running DataModelDocTests with PODPIPE_UPDATE_CATALOG=1 (the tests then write the files
# instead of failing on them; the run's own check of the catalog table still sees the old
# resource, so its result is ignored), then once more to check (rebuilt with the new
# resource). Run it after editing the doc, and commit all three.
set -eu
cd "$(dirname "$0")/.."
PODPIPE_UPDATE_CATALOG=1 swift test --filter DataModelDocTests >/dev/null 2>&1 || true
swift test --filter DataModelDocTests
git status --short doc/data-model.md Sources/PodpipeCore/SQL/catalog deploy/datasette-metadata.json

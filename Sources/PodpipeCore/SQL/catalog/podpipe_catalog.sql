-- placeholder: scripts/update-catalog.sh generates this file
DELETE FROM podpipe_catalog;

"""MediaKind MK.IO: the AMS v3 job JSON behind MK.IO's own paths and tokens."""

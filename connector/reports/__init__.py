"""Reports: figures vendors and partners look at, each computed by SQL aggregates in the database
(never by loading records into Python), filtered by period, group, tier and region, and limited
to the partners a caller may see."""

"""The sweeper: the component that takes every decision, in event time, once the low
watermark has passed it (records and time rules alike). One sweeper leads at a time;
others wait as standbys."""

"""Analytics: what the event stream says about campaigns. The events consumer folds every event into
figures under a watermark per reader (consumers.py), effectiveness and uplift against the control
group are computed from those figures, the subscribers' answers and their usage (effectiveness/), and
Parquet datasets hand all of it to BI (exports/)."""

"""How well a campaign worked: what it is judged on (settings.py), the outcome figures computed from
its messages, the subscribers' answers and their usage, stored in campaign_results (refresh.py), the
uplift against the control group with its interval (uplift.py), and what a report page reads
(report.py). Only the analyst and admin roles read these reports (users.roles.ANALYTICS_READERS)."""

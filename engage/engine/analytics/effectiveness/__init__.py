"""How well a campaign worked: what it is judged on (settings.py), the outcome figures computed from
its messages, the subscribers' answers and their usage, stored in campaign_results (refresh.py), the
uplift against the control group with its interval (uplift.py), and what a report page reads
(report.py). Analysts and admins read these reports, and users given the analytics grant
(users.roles.may_read_analytics)."""

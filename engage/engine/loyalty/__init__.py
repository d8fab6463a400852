"""The loyalty programme: a ledger of points with the rules of the house for money and points
(append-only entries, a balance kept in the transaction that posts them, an idempotency key per
source, corrections as compensating entries).

    programmes.py   a programme: its currency, what a point is worth, how long points live, the settings
                    other parts read (with their defaults) and their changes
    members.py      enrolment (keyword, USSD, API, bulk, a segment) and a member's status
    auto_enrol.py   whoever a saved segment selects enrolled: once, or hourly for the programme's enrol_segment
    ledger.py       posting: credits in lots (earn, adjust, exchange in), debits oldest lot first,
                    reversals; reading a balance and a member's entries
    redemption.py   two-phase spending: hold, then confirm or release
    transfers.py    points given by one member to another, keeping the earliest expiry of what was taken
    rewards.py      the catalogue: names per language, price, stock, validity, level, limit per member
    fulfilment.py   how a reward is fulfilled: one registered adapter per kind (none, voucher, http)
    redeeming.py    a redemption start to end: conditions, hold with stock, fulfil, confirm or
                    release; the sweeper for those left undecided
    expiry.py       the set-based job that empties lots that are due, one entry per lot
    expiry_notices.py the "points will expire" SMS, once per member and expiry day, N days before
    opening_balances.py the imported loyalty_points and loyalty_tier moved into a programme's ledger, once
    rules.py        earning rules, versioned: what usage is worth, validated field by field
    scoring.py      usage records -> points, a batch per transaction: replays dropped, the remainder
                    carried, multipliers by level or saved segment, caps per day and month; the rule tester
    awards.py       campaign-triggered awards: a reply, a USSD opt-in (an events-worker consumer),
                    usage within N days after a delivered message (found by scoring)
    feed.py         usage batches through the broker (`engage worker loyalty`) or from a file
    ussd_actions.py loyalty_balance and loyalty_join, for a USSD menu's action screens
    ussd_transfer.py loyalty_transfer: giving points on a USSD menu, once per session
    keyword_steps.py the keyword steps loyalty_join and loyalty_balance (JOIN, BAL by SMS)
    levels.py       levels by points earned in a rolling window: raised at once, lowered at a review
                    past a grace period
    overview.py     what the back office shows: figures, rules in words, a member's ledger
    adjustments.py  a person's corrections, with a reason: posted at once within the programme's threshold,
                    above it waiting for a second person who approves (posting once) or rejects
    jobs.py         expiry, notices, level reviews, fulfilment retries and segment enrolment as the events
                    worker's periodic jobs
    incidents.py    what needs a person: redemptions waiting for fulfilment, and those that failed, with why
    profile.py      the subscriber's loyalty_points and loyalty_tier kept from the ledger (the first
                    programme's), so segments, templates and menus read the ledger's figures
    partners.py     merchants on the partner API: a token each (its hash kept), earn for a purchase, burn
                    and read a balance with the member's consent code, reversal; their transactions
    consent_codes.py one-time codes by SMS (a reply whose text is fixed when queued): a salted hash kept,
                    one use, 10 minutes, 5 wrong tries, 5 codes an hour
    partner_api.py  the partner API below HTTP: fields checked and named, one transaction per request, its
                    answer kept under the Idempotency-Key
    exchange.py     exchange with other programmes at their rates, both ways, a minimum and a daily limit
                    per member; the statement per exchange partner
    settlement.py   a partner's statement per period: points issued and burnt, their money value, the net; CSV
    reports.py      the back office's reports: per period, per rule and cause, liability, levels, partners; CSV
    report_periods.py days, weeks and months in the reader's time zone, grouped in the database on both stores
    report_usage.py the programme's use: USSD visits, keyword use, campaigns sent and awarded
    loads.py        bulk point loads: a file read into a load with each row's problem by line, waiting for a
                    second person; its report and CSV
    load_files.py   a load's file read: CSV (UTF-8) or Parquet, the columns found, whole-file mistakes
    load_posting.py a load approved (posted in batches, each external id once) or rejected
"""

"""Which provider carries a message, and at what price: providers' price tables (imported from
CSV, read back as the prices in force) and least-cost routing over them and the providers' health.
Both the campaign estimate and the delivery pipeline ask it; it asks neither."""

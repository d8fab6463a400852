"""engage: bulk SMS/USSD campaign and engagement engine."""

"""The pure domain of slawatch: policies, calendars, clocks. No I/O lives here."""

"""Push events: Azure Event Grid (AMS, RMS) and MediaKind MK.IO webhooks, received
on the exporter's listener and applied to the accounts' jobs within a second."""

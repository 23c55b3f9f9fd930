// Package observe is how operators see the plugin at work: the Prometheus
// metrics, the audit records of every certificate, request and settings
// change, and the plugin's file of a Support Packet.
//
// The metrics and the audit are decorators over the enrollment core's
// ports (Metrics.ObserveConnector, Metrics.ObserveInventory), so the core
// neither counts nor audits; the support packet reads the same settings
// and records to describe a set-up. They are one package because they
// describe the plugin in the same terms: the settings flattened to their
// JSON names (a settings change and the support packet), the audit event
// names, the metrics a support packet points to.
//
// It is server/observe, not a package of Mattermost adapters: it calls no
// plugin API, only narrow interfaces the plugin hands it (AuditLog with
// LogAuditRec, EventLog, Logger, SupportRecords) and funcs; of Mattermost
// it uses only the value types those carry (model.AuditRecord,
// model.FileData) and plugin.MakeAuditRecord, which makes one.
package observe

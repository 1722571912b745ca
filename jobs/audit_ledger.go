package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeAuditLedger checks that every tenant's balance equals the sum of its
// ledger. It never changes anything: a mismatch is a bug to investigate, so
// it is logged as an error and counted in aibud_events_total.
const TypeAuditLedger = "ledger:audit"

// NewAuditLedgerTask returns the audit task.
func NewAuditLedgerTask() (*asynq.Task, error) {
	return newTask(TypeAuditLedger, struct{}{}, asynq.Queue(QueueLow), asynq.MaxRetry(1), asynq.Timeout(5*time.Minute))
}

func (w *Worker) auditLedger(ctx context.Context, _ *asynq.Task) error {
	bad, err := w.store.LedgerMismatchesAllTenants(ctx)
	if err != nil {
		return err
	}
	for _, m := range bad {
		w.metrics.Count("ledger_mismatch")
		w.log.ErrorContext(ctx, "credit balance differs from ledger",
			"tenant_id", m.TenantID, "balance", m.Balance, "ledger_sum", m.LedgerSum)
	}
	return nil
}

package jobs

import (
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// tenantPayload is the part every tenant-scoped payload shares.
type tenantPayload struct {
	TenantID int64 `json:"tenant_id"`
}

// tenantOf reads the tenant of a task for logging, 0 when it has none.
func tenantOf(t *asynq.Task) int64 {
	var p tenantPayload
	_ = json.Unmarshal(t.Payload(), &p)
	return p.TenantID
}

// decode reads a payload; a malformed one is never retried.
func decode(t *asynq.Task, v any) error {
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}

func newTask(typ string, payload any, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	return asynq.NewTask(typ, b, opts...), nil
}

package supervisor

import (
	"context"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

// actorLogger routes protoactor's slog output into the broker's zerolog
// logger, at warn and above: its info lines (dead letters, "Recovering"
// without a stack) repeat what the supervisor logs better.
func actorLogger(zl zerolog.Logger) actor.ConfigOption {
	return actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
		h := zerolog.NewSlogHandler(zl.With().Str("component", "protoactor").Logger().Level(maxLevel(zl.GetLevel(), zerolog.WarnLevel)))
		return slog.New(renameMessage{h}).With("system", sys.ID)
	})
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}

// renameMessage renames protoactor's "message" attribute, which would
// otherwise collide with zerolog's own message field and give the JSON line
// two "message" keys.
type renameMessage struct{ slog.Handler }

func (h renameMessage) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "message" {
			a.Key = "actorMessage"
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h renameMessage) WithAttrs(attrs []slog.Attr) slog.Handler {
	return renameMessage{h.Handler.WithAttrs(attrs)}
}

func (h renameMessage) WithGroup(name string) slog.Handler {
	return renameMessage{h.Handler.WithGroup(name)}
}

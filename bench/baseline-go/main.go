// bench/baseline-go: the ESME performance test as its users run it today,
// written here from docs/protocol.md §5 so esmeload can be measured beside it: one
// goroutine per participant (two once it has a chat), gorilla/websocket,
// the same flags, the same config.json and the same two output files.
//
// It is faithful on purpose, weaknesses included: the organizer never reads
// its socket, participants read and discard, loops sleep after each action
// (a slow server lowers the load it gets), and only messages *sent* are
// counted. Two benchmark-only additions, both off by default: --duration,
// so runs are bounded (the original runs until the first error or a
// signal), and --max-participants, so a benchmark can hold N participants
// as esmeload's flag of that name does (the original's spawner never stops).
//
//	esme-go -sci 10 -cpi 20 -smi 100 [-logWs] [--duration 30s] [--max-participants N]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

type config struct {
	EventID           int    `json:"event_id"`
	MessengerWsURL    string `json:"messenger_ws_url"`
	OrganizerAPIURL   string `json:"organizer_api_url"`
	OrganizerEmail    string `json:"organizer_email"`
	OrganizerPassword string `json:"organizer_password"`
	ParticipantAPIURL string `json:"participant_api_url"`
}

type constants struct {
	StartChatInterval         string `json:"start_chat_interval"`
	CreateParticipantInterval string `json:"create_participant_interval"`
	SendMessageInterval       string `json:"send_message_interval"`
	LogWs                     bool   `json:"log_ws"`
}

// The summary's keys, in the order the original writes them.
type summary struct {
	Constants                constants `json:"constants"`
	Description              string    `json:"description"`
	OrganizerTimeStarted     time.Time `json:"organizer_time_started"`
	OrganizerDuration        string    `json:"organizer_duration"`
	ParticipantsTimeStarted  time.Time `json:"participants_time_started"`
	ParticipantsDuration     string    `json:"participants_duration"`
	MessagesSent             int64     `json:"messages_sent"`
	ChatsCount               int64     `json:"chats_count"`
	CreatedParticipantsCount int64     `json:"created_participants_count"`
}

type envelope struct {
	Type    string      `json:"type"`
	Payload interface{} `json:"payload"`
}

type inEnvelope struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

type sendMessagePayload struct {
	ChatID  string `json:"chatId"`
	Message string `json:"message"`
}

// test holds what every goroutine shares; counters are atomics, the
// per-second rates a mutex-guarded map, as a Go program would have them.
type test struct {
	cfg       config
	sci, cpi  time.Duration
	smi       time.Duration
	logWs     bool
	maxParts  int
	startUnix int64

	stopOnce sync.Once
	stop     chan struct{}
	stopErr  error

	messagesSent int64
	chats        int64
	created      int64

	ratesMu sync.Mutex
	rates   map[int64]int64

	orgStart, partStart time.Time
}

// fail stops the test with its first error; later ones are dropped.
func (t *test) fail(err error) {
	t.stopOnce.Do(func() {
		t.stopErr = err
		close(t.stop)
	})
}

func (t *test) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

func (t *test) postJSON(url string, body interface{}, bearer string, want int) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("POST %s: status %d, want %d: %s", url, resp.StatusCode, want, rb)
	}
	return rb, nil
}

// dial opens <messenger_ws_url>/connect (gorilla's default dialer: the
// 45 s handshake timeout) and sends the authorization frame.
func (t *test) dial(token string) (*websocket.Conn, error) {
	c, _, err := websocket.DefaultDialer.Dial(t.cfg.MessengerWsURL+"/connect", nil)
	if err != nil {
		return nil, err
	}
	if err := t.write(c, map[string]string{"Authorization": "Bearer " + token}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (t *test) write(c *websocket.Conn, v interface{}) error {
	if t.logWs {
		if b, err := json.Marshal(v); err == nil {
			log.Printf("ws send %s: %s", c.LocalAddr(), b)
		}
	}
	return c.WriteJSON(v)
}

func (t *test) organizer() {
	t.orgStart = time.Now()
	rb, err := t.postJSON(t.cfg.OrganizerAPIURL+"/auth/sign-in", map[string]string{
		"email": t.cfg.OrganizerEmail, "password": t.cfg.OrganizerPassword,
	}, "", http.StatusOK)
	if err != nil {
		t.fail(fmt.Errorf("organizer sign-in: %w", err))
		return
	}
	var si struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(rb, &si); err != nil {
		t.fail(fmt.Errorf("organizer sign-in: %w", err))
		return
	}
	c, err := t.dial(si.Token)
	if err != nil {
		t.fail(fmt.Errorf("organizer: %w", err))
		return
	}
	// The original's organizer never reads: the server's copies of every
	// user message pile up in its socket buffers.
	for !t.stopped() {
		time.Sleep(t.sci)
		if err := t.write(c, envelope{Type: "start_chat", Payload: ""}); err != nil {
			t.fail(fmt.Errorf("organizer start_chat: %w", err))
			return
		}
	}
}

func (t *test) spawner() {
	t.partStart = time.Now()
	for n := 1; !t.stopped(); n++ {
		if t.maxParts > 0 && n > t.maxParts {
			return
		}
		time.Sleep(t.cpi)
		email := fmt.Sprintf("participant_%d_%d@performance.com", t.startUnix, n)
		rb, err := t.postJSON(t.cfg.ParticipantAPIURL+"/auth/sign-up", map[string]string{
			"email": email, "password": "performance",
			"confirmPassword": "performance", "phoneNumber": "+48100200300",
		}, "", http.StatusCreated)
		if err != nil {
			t.fail(fmt.Errorf("participant %d sign-up: %w", n, err))
			return
		}
		var su struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(rb, &su); err != nil {
			t.fail(fmt.Errorf("participant %d sign-up: %w", n, err))
			return
		}
		_, err = t.postJSON(t.cfg.ParticipantAPIURL+"/chat-requests", map[string]interface{}{
			"eventId": t.cfg.EventID, "description": "Performance test chat request",
		}, su.Token, http.StatusOK)
		if err != nil {
			t.fail(fmt.Errorf("participant %d chat request: %w", n, err))
			return
		}
		go t.participant(n, su.Token)
		atomic.AddInt64(&t.created, 1)
	}
}

func (t *test) participant(n int, token string) {
	c, err := t.dial(token)
	if err != nil {
		t.fail(fmt.Errorf("participant %d: %w", n, err))
		return
	}
	chatID := ""
	for try := 1; chatID == ""; try++ {
		if try > 10 {
			t.fail(fmt.Errorf("participant %d: no chat after 10 get_chats", n))
			return
		}
		time.Sleep(t.smi)
		if err := t.write(c, envelope{Type: "get_chats", Payload: ""}); err != nil {
			t.fail(fmt.Errorf("participant %d get_chats: %w", n, err))
			return
		}
		var in inEnvelope
		if err := c.ReadJSON(&in); err != nil {
			t.fail(fmt.Errorf("participant %d read: %w", n, err))
			return
		}
		if t.logWs {
			log.Printf("ws recv %s: %s %s", c.LocalAddr(), in.Type, in.Payload)
		}
		if in.Type != "chats" {
			continue
		}
		var p struct {
			Chats []struct {
				ID string `json:"id"`
			} `json:"chats"`
		}
		if json.Unmarshal(in.Payload, &p) == nil && len(p.Chats) > 0 {
			chatID = p.Chats[0].ID
		}
	}
	atomic.AddInt64(&t.chats, 1)

	go func() {
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				t.fail(fmt.Errorf("participant %d read: %w", n, err))
				return
			}
			if t.logWs {
				log.Printf("ws recv %s: %s", c.LocalAddr(), m)
			}
		}
	}()
	local := c.LocalAddr().String()
	for k := 1; !t.stopped(); k++ {
		time.Sleep(t.smi)
		err := t.write(c, envelope{Type: "send_message", Payload: sendMessagePayload{
			ChatID:  chatID,
			Message: fmt.Sprintf("connection %s: message number %d", local, k),
		}})
		if err != nil {
			t.fail(fmt.Errorf("participant %d send_message: %w", n, err))
			return
		}
		sec := time.Now().Unix()
		t.ratesMu.Lock()
		t.rates[sec]++
		t.messagesSent++
		t.ratesMu.Unlock()
	}
}

// writeAtomic writes under a temporary name and renames, so a reader never
// sees half a file.
func writeAtomic(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func main() {
	sci := flag.Int("sci", 1000, "start chat interval in ms")
	cpi := flag.Int("cpi", 1000, "create participant interval in ms")
	smi := flag.Int("smi", 1000, "send message interval in ms")
	logWs := flag.Bool("logWs", false, "log every WebSocket message")
	duration := flag.Duration("duration", 0, "stop after this long (benchmark addition; 0: never)")
	maxParts := flag.Int("max-participants", 0, "create at most N participants (benchmark addition; 0: no limit)")
	flag.Parse()

	start := time.Now()
	t := &test{
		sci: time.Duration(*sci) * time.Millisecond, cpi: time.Duration(*cpi) * time.Millisecond,
		smi: time.Duration(*smi) * time.Millisecond, logWs: *logWs, maxParts: *maxParts,
		startUnix: start.Unix(), stop: make(chan struct{}), rates: map[int64]int64{},
		orgStart: start, partStart: start,
	}
	raw, err := os.ReadFile("config.json")
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	if err := json.Unmarshal(raw, &t.cfg); err != nil {
		log.Fatalf("config.json: %v", err)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		t.fail(signalError{<-sig})
	}()
	if *duration > 0 {
		time.AfterFunc(*duration, func() { t.fail(errDuration) })
	}

	go t.organizer()
	go t.spawner()
	<-t.stop
	end := time.Now()

	t.ratesMu.Lock()
	s := summary{
		Constants: constants{
			StartChatInterval:         t.sci.String(),
			CreateParticipantInterval: t.cpi.String(),
			SendMessageInterval:       t.smi.String(),
			LogWs:                     t.logWs,
		},
		Description:              "performance test summary",
		OrganizerTimeStarted:     t.orgStart,
		OrganizerDuration:        end.Sub(t.orgStart).String(),
		ParticipantsTimeStarted:  t.partStart,
		ParticipantsDuration:     end.Sub(t.partStart).String(),
		MessagesSent:             t.messagesSent,
		ChatsCount:               atomic.LoadInt64(&t.chats),
		CreatedParticipantsCount: atomic.LoadInt64(&t.created),
	}
	rates := make(map[string]int64, len(t.rates))
	for sec, n := range t.rates {
		rates[fmt.Sprint(sec)] = n
	}
	t.ratesMu.Unlock()

	code := 0
	if errors.Is(t.stopErr, errDuration) {
		log.Printf("stopped: %v", t.stopErr)
	} else if t.stopErr != nil {
		log.Printf("error: %v", t.stopErr)
		if _, isSig := t.stopErr.(signalError); !isSig {
			code = 1
		}
	}
	sb, _ := json.MarshalIndent(s, "", "  ")
	fmt.Println(string(sb))
	rb, _ := json.MarshalIndent(rates, "", "  ")
	prefix := fmt.Sprint(t.startUnix)
	if err := writeAtomic(prefix+"_performance_test_summary.json", sb); err != nil {
		log.Printf("summary: %v", err)
		code = 1
	}
	if err := writeAtomic(prefix+"_performance_test_message_rates.json", rb); err != nil {
		log.Printf("message rates: %v", err)
		code = 1
	}
	os.Exit(code)
}

var errDuration = errors.New("duration reached")

type signalError struct{ os.Signal }

func (e signalError) Error() string { return "signal: " + e.Signal.String() }

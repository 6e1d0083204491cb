// The test page of tests/test_livekit_react.py: Runway's React SDK, unchanged, in a call with a
// characters server in LiveKit mode. ?avatarId=…&connectUrl=… (the integrator's /connect, on
// another origin). What the test reads: [data-avatar-status] on the video, the captions list
// (#captions li, one per transcript entry), #session-state, #avatar, #ended and #errors.
import { useSyncExternalStore } from "react";
import { createRoot } from "react-dom/client";
import {
  AvatarCall,
  AvatarVideo,
  ControlBar,
  useAvatar,
  useAvatarSession,
  useTranscript,
} from "@runwayml/avatars-react";
import "@runwayml/avatars-react/styles.css";

const params = new URLSearchParams(location.search);

// onEnd and onError are shown by components of their own, fed by this little store: the
// component that renders AvatarCall must not re-render when the call ends, or the SDK connects
// again with the same token (LiveKitRoom's connect effect depends on AvatarSession's onError,
// a new function on every render).
const seen = { ended: [], errors: [] };
const listeners = new Set();
const subscribe = (listener) => (listeners.add(listener), () => listeners.delete(listener));
const version = () => seen.ended.length + seen.errors.length;
function record(kind, value) {
  seen[kind] = [...seen[kind], value];
  for (const listener of listeners) listener();
}
const onEnd = () => record("ended", Math.round(performance.now()));
const onError = (error) => record("errors", error.message);

function Ended() {
  useSyncExternalStore(subscribe, version);
  const times = seen.ended;
  return (
    <p id="ended" data-count={times.length} data-times={times.join(",")}>
      onEnd: {times.length ? `called at ${times.join(", ")} ms` : "not called"}
    </p>
  );
}

function Errors() {
  useSyncExternalStore(subscribe, version);
  return (
    <ul id="errors">
      {seen.errors.map((message, i) => (
        <li key={i}>{message}</li>
      ))}
    </ul>
  );
}

function Captions() {
  const entries = useTranscript({ interim: true });
  return (
    <ul id="captions">
      {entries.map((entry) => (
        <li
          key={entry.id}
          data-id={entry.id}
          data-identity={entry.participantIdentity}
          data-final={String(entry.final)}
        >
          <b>{entry.participantIdentity}</b>: <span className="text">{entry.text}</span>
        </li>
      ))}
    </ul>
  );
}

function SessionState() {
  const { state, sessionId, error } = useAvatarSession();
  return (
    <p id="session-state" data-state={state} data-session-id={sessionId}>
      session {sessionId}: {state}
      {error ? ` (${error.message})` : ""}
    </p>
  );
}

function Avatar() {
  const { participant, hasVideo } = useAvatar();
  return (
    <p id="avatar" data-identity={participant?.identity ?? ""} data-has-video={String(hasVideo)}>
      avatar: {participant?.identity ?? "none"}
    </p>
  );
}

function App() {
  return (
    <main>
      <h1>Runway's React SDK</h1>
      <AvatarCall
        avatarId={params.get("avatarId")}
        connectUrl={params.get("connectUrl")}
        // No camera from the user: Chromium's fake camera would only cost encoding time.
        video={false}
        onEnd={onEnd}
        onError={onError}
      >
        <AvatarVideo />
        <ControlBar />
        <div className="panel">
          <SessionState />
          <Avatar />
          <Captions />
        </div>
      </AvatarCall>
      <Ended />
      <Errors />
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);

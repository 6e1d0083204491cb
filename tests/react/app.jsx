// The test page of tests/test_livekit_react.py: Runway's React SDK, unchanged, in a call with a
// characters server in LiveKit mode. ?avatarId=…&connectUrl=… (the integrator's /connect, on
// another origin). What the test reads: [data-avatar-status] on the video, the captions list
// (#captions li, one per transcript entry), #session-state, #avatar, #ended and #errors.
import { useState } from "react";
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
  const [ended, setEnded] = useState([]);
  const [errors, setErrors] = useState([]);
  return (
    <main>
      <h1>Runway's React SDK</h1>
      <AvatarCall
        avatarId={params.get("avatarId")}
        connectUrl={params.get("connectUrl")}
        // No camera from the user: Chromium's fake camera would only cost encoding time.
        video={false}
        onEnd={() => setEnded((all) => [...all, Math.round(performance.now())])}
        onError={(error) => setErrors((all) => [...all, error.message])}
      >
        <AvatarVideo />
        <ControlBar />
        <div className="panel">
          <SessionState />
          <Avatar />
          <Captions />
        </div>
      </AvatarCall>
      <p id="ended" data-count={ended.length} data-times={ended.join(",")}>
        onEnd: {ended.length ? `called at ${ended.join(", ")} ms` : "not called"}
      </p>
      <ul id="errors">
        {errors.map((message, i) => (
          <li key={i}>{message}</li>
        ))}
      </ul>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);

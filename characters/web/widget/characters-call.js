// The <characters-call> web component (being built).

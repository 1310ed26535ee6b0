import { mount } from 'svelte';
import { environmentProblem, probeEnvironment } from './lib/environment.ts';
import Unsupported from './lib/components/Unsupported.svelte';
import './app.css';

const target = document.getElementById('app')!;
// Checked before the app is even loaded: where it cannot run, it touches nothing (no
// identity, no IndexedDB, no socket) and says why in words instead.
const problem = environmentProblem(probeEnvironment());
if (problem) {
  mount(Unsupported, { target, props: { problem } });
} else {
  void import('./App.svelte').then(({ default: App }) => mount(App, { target }));
}

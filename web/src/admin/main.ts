import { mount } from 'svelte';
import Dashboard from './Dashboard.svelte';
import '../app.css';

mount(Dashboard, { target: document.getElementById('app')! });

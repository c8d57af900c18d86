// Journey 1 again with JavaScript turned off in the browser: every action is
// a plain form, so the same steps must work.
import { journey } from '../lib/harness.mjs';
import { upgradeJourney } from '../lib/upgrade-journey.mjs';

journey('no JavaScript: journey 1 with JavaScript turned off', upgradeJourney, { slug: 'j1-nojs', javaScript: false });

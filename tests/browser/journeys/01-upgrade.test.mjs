// Journey 1 with JavaScript on: request, quote, agree; assign from the
// helpdesk queue; 30 seats and the invoice.
import { journey } from '../lib/harness.mjs';
import { upgradeJourney } from '../lib/upgrade-journey.mjs';

journey('journey 1: a manager requests 10 seats, the account manager assigns them', upgradeJourney, { slug: 'j1' });

"""X and Z reports: ``report`` adds up a period and journals it, ``figures`` holds every
figure and the sums that make them, ``text`` lays the report out for paper."""
